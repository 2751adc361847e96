// Starts the npm package telegram-test-api (a Telegram Bot API emulator) from a JSON config
// file: node emulator.js CONFIG.json. Prints one line "listening <apiURL>" when ready and
// stops cleanly on SIGTERM/SIGINT. Used only by the end-to-end tests and bench/.
'use strict';

const fs = require('fs');
const TelegramServer = require('telegram-test-api');

async function main() {
  const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const server = new TelegramServer(config);
  await server.start();
  process.stdout.write(`listening ${server.config.apiURL}\n`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error) => {
  process.stderr.write(`emulator failed: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
