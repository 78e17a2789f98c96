// An HTTPS server requiring client certificates (tests/servers/runtimes.py starts it).
const https = require("https");
const fs = require("fs");
const [port, cert, key, ca, mode] = process.argv.slice(2);
const server = https.createServer(
  {
    cert: fs.readFileSync(cert),
    key: fs.readFileSync(key),
    ca: fs.readFileSync(ca),
    requestCert: true,
    // "tls": the TLS layer refuses; "app": it accepts, the application decides.
    rejectUnauthorized: mode === "tls",
  },
  (req, res) => {
    const socket = req.socket;
    if (!socket.authorized) {
      const reason = socket.authorizationError || "no certificate";
      console.log(`refused: ${reason}`);
      res.writeHead(403, { "Content-Type": "text/plain" });
      res.end(`Unauthorized: ${reason}\n`);
      return;
    }
    console.log("served: " + socket.getPeerCertificate().subject.CN);
    res.end("ok\n");
  }
);
server.on("tlsClientError", (err) => console.log(`tlsClientError: ${err.code}: ${err.message}`));
server.listen(Number(port), "127.0.0.1");
