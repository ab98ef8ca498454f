#!/usr/bin/env node
// Runs an ONNX model with ONNX Runtime (npm onnxruntime-node) on a float32 .npy input and
// writes the first output as a float32 .npy (format 1.0, C order, little-endian).
//
//   node tests/tools/ort_run.js model.onnx x.npy y.npy [NODE_MODULES_DIR]
//
// NODE_MODULES_DIR defaults to <repo>/.deps/node/node_modules (where `make deps` installs it).
// Exit codes: 0 ok, 2 bad arguments or input, 1 ONNX Runtime failed.
'use strict';
const fs = require('fs');
const path = require('path');

function fail(code, msg) {
  process.stderr.write('ort_run: ' + msg + '\n');
  process.exit(code);
}

// Reads a little-endian float32 C-order .npy (versions 1.0 / 2.0 / 3.0).
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') fail(2, file + ': not a .npy file');
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  if (hstart + hlen > buf.length) fail(2, file + ': truncated header');
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']*)'/.exec(header);
  const order = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !order || !shape) fail(2, file + ': unreadable header ' + header.trim());
  if (descr[1] !== '<f4') fail(2, file + ': dtype ' + descr[1] + ', expected <f4 (float32)');
  if (order[1] !== 'False') fail(2, file + ': Fortran order not supported');
  const dims = shape[1].split(',').map(s => s.trim()).filter(s => s.length).map(Number);
  const n = dims.reduce((a, b) => a * b, 1);
  const off = hstart + hlen;
  if (buf.length - off !== n * 4) fail(2, file + ': data has ' + (buf.length - off) + ' bytes, expected ' + n * 4);
  const data = new Float32Array(n);
  for (let i = 0; i < n; ++i) data[i] = buf.readFloatLE(off + 4 * i);
  return { dims, data };
}

// Writes a float32 .npy, format 1.0, header padded with spaces so the data starts 64-aligned.
function writeNpy(file, dims, data) {
  const shape = dims.length === 1 ? '(' + dims[0] + ',)' : '(' + dims.join(', ') + ')';
  let header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ', }';
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(data.length * 4);
  for (let i = 0; i < data.length; ++i) body.writeFloatLE(data[i], 4 * i);
  const tmp = file + '.tmp' + process.pid;
  fs.writeFileSync(tmp, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
  fs.renameSync(tmp, file);
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length < 3 || args.length > 4) fail(2, 'usage: ort_run.js model.onnx x.npy y.npy [node_modules]');
  const modules = args[3] || path.join(__dirname, '..', '..', '.deps', 'node', 'node_modules');
  let ort;
  try {
    ort = require(path.join(path.resolve(modules), 'onnxruntime-node'));
  } catch (e) {
    fail(2, 'onnxruntime-node not found under ' + modules + ' (run make deps): ' + e.message);
  }
  const x = readNpy(args[1]);
  let session;
  try {
    session = await ort.InferenceSession.create(args[0], { intraOpNumThreads: 1 });
  } catch (e) {
    fail(1, args[0] + ': ONNX Runtime cannot load the model: ' + e.message.split('\n')[0]);
  }
  const feeds = {};
  feeds[session.inputNames[0]] = new ort.Tensor('float32', x.data, x.dims);
  const out = await session.run(feeds);
  const y = out[session.outputNames[0]];
  if (y.type !== 'float32') fail(1, 'output type ' + y.type + ', expected float32');
  writeNpy(args[2], y.dims, y.data);
}

main().catch(e => fail(1, String(e && e.message ? e.message : e).split('\n')[0]));
