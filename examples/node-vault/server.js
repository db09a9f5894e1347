// A tiny API that reads its secrets from its environment, as any app does: secretsafe put
// them there from Vault (`secretsafe run --vault apps/api/prod -- node server.js`) after
// checking them against schema.toml. Nothing here knows about Vault.
"use strict";
const http = require("http");

const port = Number(process.env.PORT || 3000);
const apiKey = process.env.API_KEY;
const databaseUrl = new URL(process.env.DATABASE__URL);

http
  .createServer((req, res) => {
    // Says what it was configured with, never the values.
    res.setHeader("Content-Type", "application/json");
    res.end(
      JSON.stringify({
        api_key_length: apiKey.length,
        database_host: databaseUrl.hostname,
      }) + "\n",
    );
  })
  .listen(port, "127.0.0.1", () => console.log(`listening on ${port}`));
