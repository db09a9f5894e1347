// A trivial Node server: secretsafe has already validated its environment.
const http = require("http");
const port = Number(process.env.PORT || 3000);
http.createServer((req, res) => res.end("ok\n")).listen(port, () => console.log(`listening on ${port}`));
