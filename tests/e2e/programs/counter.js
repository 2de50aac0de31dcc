// A node event loop (libuv: epoll, eventfds, pipes) for real_node.sh: a
// setInterval counter, a setTimeout armed before the dump for a wall-clock
// instant after it, signal handlers, and an fs.watch (inotify) on
// /tmp/watched, which nothing writes before the dump. Prints "node: READY
// at=MS" (the timeout's Date.now() instant). SIGUSR2 (sent after the restore,
// once the test has appended to /tmp/watched) is counted; on SIGUSR1 it
// checks, a second later, that the counter kept counting, the timeout fired
// once, not early, SIGUSR2 came once and the watch saw the file change, then
// prints "node: OK ..." (exit 0) or "node: FAIL ..." (exit 1).
'use strict';
const fs = require('fs');
let count = 0, usr2 = 0, fired = 0, firedAt = 0, changes = 0;
fs.writeFileSync('/tmp/watched', 'before\n');
fs.watch('/tmp/watched', () => { changes++; });
const at = Date.now() + 4000;
setInterval(() => { count++; }, 50);
setTimeout(() => { fired++; firedAt = Date.now(); }, at - Date.now());
process.on('SIGUSR2', () => { usr2++; });
process.on('SIGUSR1', () => {
  const before = count;
  setTimeout(() => {
    const verdict = [];
    if (count < before + 10) verdict.push(`counter stalled (${before} -> ${count})`);
    if (fired !== 1) verdict.push(`timeout fired ${fired} times`);
    // libuv times timers on its cached millisecond loop clock (monotonic),
    // Date.now() is the wall clock: a timer fires up to ~1 ms early by it
    // even when nothing was checkpointed.
    if (fired && firedAt < at - 2) verdict.push(`timeout early by ${at - firedAt} ms`);
    if (fired && firedAt > at + 1000) verdict.push(`timeout late by ${firedAt - at} ms`);
    if (usr2 !== 1) verdict.push(`SIGUSR2 seen ${usr2} times`);
    if (changes < 1) verdict.push('fs.watch saw no change of /tmp/watched');
    const facts = `count ${before} -> ${count}, timeout ${fired} at ${firedAt - at} ms, usr2 ${usr2}, changes ${changes}`;
    console.log(verdict.length ? `node: FAIL ${verdict.join('; ')} (${facts})` : `node: OK ${facts}`);
    process.exit(verdict.length ? 1 : 0);
  }, 1000);
});
console.log(`node: READY at=${at}`);
