"""The page's inline CSS and scripts: ERROR_SCRIPT (in <head>) records any script error in
data-script-errors on <html>; SCRIPT (at the end of <body>) runs the tabs, sortable tables,
hover tooltip and graph highlighting, then sets data-rendered="ok" on <body>."""

CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC",
 "PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif;
 color:#0f172a;background:#f1f5f9}
header{background:#0f172a;color:#e2e8f0;padding:18px 32px}
header h1{margin:0;font-size:22px;font-weight:600}
header .meta{color:#94a3b8;font-size:13px;margin-top:4px}
nav{position:sticky;top:0;z-index:5;background:#1e293b;padding:6px 32px;display:flex;gap:18px;flex-wrap:wrap}
nav a{color:#cbd5e1;text-decoration:none;font-size:13px}
nav a:hover{color:#fff}
main{max-width:1240px;margin:0 auto;padding:8px 24px 40px}
section{background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(15,23,42,.08);margin:18px 0;padding:16px 22px}
h2{font-size:18px;margin:0 0 6px}
h3{font-size:15px;margin:16px 0 6px;color:#334155}
h4{font-size:13px;margin:10px 0 4px;color:#475569;text-transform:uppercase;letter-spacing:.03em}
.intro{color:#475569;margin:0 0 10px}
.muted{color:#64748b;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(128px,1fr));gap:10px;margin:8px 0 12px}
.card.wide{grid-column:span 2}
.cards.small{grid-template-columns:repeat(auto-fill,minmax(150px,1fr))}
.card{border:1px solid #e2e8f0;border-radius:8px;padding:8px 12px;background:#f8fafc}
.card.good{border-color:#86efac;background:#f0fdf4}.card.badcard{border-color:#fca5a5;background:#fef2f2}
.cardlabel{font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:#64748b}
.cardvalue{font-size:20px;font-weight:600}
.cardsub{font-size:12px;color:#64748b;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e2e8f0;vertical-align:top}
th{background:#f1f5f9;font-weight:600;white-space:nowrap}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th:hover{background:#e2e8f0}
th.asc::after{content:" ▲";font-size:10px}th.desc::after{content:" ▼";font-size:10px}
.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:hover{background:#f8fafc}
code{font-size:12px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;white-space:nowrap}
.badge.green{background:#dcfce7;color:#166534}.badge.red{background:#fee2e2;color:#991b1b}
.badge.grey{background:#e2e8f0;color:#334155}
.auditgrid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px}
.auditcard{border:1px solid #e2e8f0;border-radius:8px;padding:10px 14px}
.auditcard.good{border-color:#86efac;background:#f0fdf4}.auditcard.badcard{border-color:#fca5a5;background:#fef2f2}
.audithead{display:flex;justify-content:space-between;align-items:center;margin-bottom:4px;font-size:15px}
.problems{color:#991b1b;margin:6px 0 0;padding-left:18px}
.problem{color:#991b1b;background:#fef2f2;border:1px solid #fca5a5;border-radius:6px;padding:8px}
.scroll{overflow-x:auto}
svg{display:block;max-width:100%;height:auto}
svg text{font-family:inherit}
.chart .grid{stroke:#e2e8f0}.chart .axis{stroke:#94a3b8}
.chart .tick{font-size:11px;fill:#64748b}.chart .tick.date{font-size:10px;fill:#94a3b8}
.chart .legend{font-size:12px;fill:#334155}
.ok{fill:#0d9488}.bad{fill:#dc2626}.ref{fill:#f59e0b}
.hit{fill:transparent}
.bar:hover .hit{fill:#e2e8f0;fill-opacity:.6}
.gap{stroke:#64748b;stroke-dasharray:4 3}.gaplabel{font-size:11px;fill:#475569}
.barlabel{font-size:12px;fill:#0f172a}.barvalue{font-size:12px;fill:#334155;font-weight:600}
.split{display:grid;grid-template-columns:minmax(0,1.1fr) minmax(0,1fr);gap:18px;align-items:start}
@media (max-width:1000px){.split{grid-template-columns:1fr}}
td{overflow-wrap:break-word}
.who{margin:4px 0;font-size:13px;color:#334155}
details{margin-top:8px}summary{cursor:pointer;color:#1d4ed8}
.stackbar{display:flex;height:26px;border-radius:6px;overflow:hidden;margin:6px 0 12px;font-size:12px;color:#fff}
.stackbar span{display:flex;align-items:center;justify-content:center;white-space:nowrap;overflow:hidden}
.sb-ok{background:#16a34a}.sb-miss{background:#dc2626}.sb-reg{background:#64748b}
.graph .gedge{opacity:.5;transition:opacity .1s}
.graph.dim .gedge{opacity:.06}.graph.dim .gedge.hi{opacity:.95}
.graph.dim .gnode{opacity:.35}.graph.dim .gnode.hi{opacity:1}
.graph .gnode{cursor:default}
.graph .coltitle{font-size:11px;fill:#64748b;text-transform:uppercase;letter-spacing:.05em}
.graph .nodelabel{font-size:11.5px;fill:#0f172a}
.graph .assetlabel{font-size:13px;font-weight:600;fill:#fff}.graph .assetsub{font-size:11px;fill:#f1f5f9}
.legendrow{margin:0 0 6px}
.regulation{margin:2px 0 4px;color:#334155;font-size:13px}
ul.evidence{margin:0;padding-left:16px}ul.evidence li{margin:0 0 2px}
.chip{display:inline-block;padding:1px 10px;margin-right:6px;border-radius:10px;font-size:12px;border:1px solid #94a3b8}
.tabs{display:flex;flex-wrap:wrap;gap:4px;border-bottom:2px solid #e2e8f0;margin:6px 0 10px}
.tab{border:1px solid #e2e8f0;border-bottom:none;background:#f8fafc;padding:5px 12px;border-radius:6px 6px 0 0;
 cursor:pointer;font:inherit;font-size:13px;color:#334155}
.tab.active{background:#1e293b;color:#fff;border-color:#1e293b}
.panel{display:none}.panel.active{display:block}
#tip{position:fixed;pointer-events:none;z-index:10;background:#0f172a;color:#f8fafc;font-size:12px;padding:5px 8px;
 border-radius:5px;max-width:420px;display:none;box-shadow:0 2px 8px rgba(0,0,0,.25)}
footer{color:#64748b;font-size:12px;text-align:center;padding:10px}
"""

ERROR_SCRIPT = """window.__errors=[];window.onerror=function(m,s,l,c){window.__errors.push(String(m)+' (line '+l+')');
document.documentElement.setAttribute('data-script-errors',window.__errors.join(' | '));};
window.addEventListener('unhandledrejection',function(e){window.onerror('unhandled rejection: '+e.reason,'',0,0);});"""

SCRIPT = """(function(){
var tip=document.getElementById('tip');
document.addEventListener('mouseover',function(e){
  var el=e.target.closest?e.target.closest('[data-tip]'):null;
  if(!el){tip.style.display='none';return;}
  tip.textContent=el.getAttribute('data-tip');tip.style.display='block';});
document.addEventListener('mousemove',function(e){
  if(tip.style.display!=='block')return;
  var x=e.clientX+14,y=e.clientY+14;
  if(x+tip.offsetWidth>window.innerWidth-8)x=e.clientX-tip.offsetWidth-14;
  if(y+tip.offsetHeight>window.innerHeight-8)y=e.clientY-tip.offsetHeight-14;
  tip.style.left=x+'px';tip.style.top=y+'px';});
document.querySelectorAll('.tab').forEach(function(b){b.addEventListener('click',function(){
  var g=b.getAttribute('data-group');
  document.querySelectorAll('[data-group="'+g+'"]').forEach(function(el){el.classList.remove('active');});
  b.classList.add('active');document.getElementById(b.getAttribute('data-panel')).classList.add('active');});});
function key(td){var v=td.getAttribute('data-v');if(v===null)v=td.textContent;
  var n=parseFloat(v);return isNaN(n)||!/^-?[0-9.]+$/.test(v.trim())?v.toLowerCase():n;}
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){
    var asc=!th.classList.contains('asc');
    t.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc');});
    th.classList.add(asc?'asc':'desc');
    var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
    rows.sort(function(a,b){var x=key(a.cells[i]),y=key(b.cells[i]);
      if(typeof x!==typeof y){x=String(x);y=String(y);}return (x<y?-1:x>y?1:0)*(asc?1:-1);});
    rows.forEach(function(r){body.appendChild(r);});});});});
document.querySelectorAll('svg.graph').forEach(function(svg){
  svg.querySelectorAll('.gnode').forEach(function(n){
    var k=n.getAttribute('data-k');
    n.addEventListener('mouseenter',function(){svg.classList.add('dim');n.classList.add('hi');
      svg.querySelectorAll('.gedge').forEach(function(e){
        if(e.getAttribute('data-a')===k||e.getAttribute('data-b')===k){e.classList.add('hi');
          var o=e.getAttribute('data-a')===k?e.getAttribute('data-b'):e.getAttribute('data-a');
          svg.querySelectorAll('.gnode').forEach(function(m){
            if(m.getAttribute('data-k')===o)m.classList.add('hi');});}});});
    n.addEventListener('mouseleave',function(){svg.classList.remove('dim');
      svg.querySelectorAll('.hi').forEach(function(e){e.classList.remove('hi');});});});});
document.body.dataset.rendered='ok';
})();"""

