// Reads a solc standard-JSON input on stdin and prints solc's output, using the
// pinned npm `solc` beside this file. Imports are all inlined in the input.
const solc = require("solc");
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  process.stdout.write(JSON.stringify({ version: solc.version(), output: JSON.parse(solc.compile(input)) }));
});
