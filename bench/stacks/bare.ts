/**
 * Stack 1, the ceiling: `node:http` answering the JSON with no checks at all.
 * @module
 */

import { createServer } from 'node:http';
import { userBody } from '../scenario.ts';
import { announce } from './listen.ts';

const server = createServer((request, response) => {
  const body = JSON.stringify(userBody('42'));
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
});

await announce(server);
