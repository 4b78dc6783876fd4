// Reads a solc standard-JSON input on stdin and prints {version, output}, using the pinned npm `solc`
// beside this file. Without options every source is inlined in the input. With --base-path DIR, solc may
// load the files the sources import, read as solc-js's own `solcjs --base-path` reads them: DIR/<source
// unit name>.
const fs = require("fs");
const solc = require("solc");
const at = process.argv.indexOf("--base-path");
const basePath = at < 0 ? null : process.argv[at + 1];
function readFileCallback(sourcePath) {
  const file = basePath + "/" + sourcePath;
  if (!fs.existsSync(file)) return { error: "File not found inside the base path or any of the include paths." };
  try {
    return { contents: fs.readFileSync(file).toString("utf8") };
  } catch (e) {
    return { error: "Error reading " + file + ": " + e };
  }
}
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const output = solc.compile(input, basePath === null ? undefined : { import: readFileCallback });
  process.stdout.write(JSON.stringify({ version: solc.version(), output: JSON.parse(output) }));
});
