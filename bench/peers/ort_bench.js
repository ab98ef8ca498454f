#!/usr/bin/env node
// Batch-1 latency of an ONNX model under ONNX Runtime (npm onnxruntime-node), one thread:
//
//   node bench/peers/ort_bench.js model.onnx C,H,W ITERS [NODE_MODULES_DIR]
//
// Prints {"median_us": ..., "min_us": ..., "iters": N}: wall time of session.run per call after
// 20 warm-up calls, input uniform in [0, 1). The per-call cost of the binding (promise,
// tensor marshalling) is included; bench/compare.sh measures it on an Identity model of the
// same input shape and subtracts it.
'use strict';
const path = require('path');

async function main() {
  const [model, dims, itersArg, mods] = process.argv.slice(2);
  if (!model || !dims || !itersArg) {
    process.stderr.write('usage: ort_bench.js model.onnx C,H,W ITERS [NODE_MODULES_DIR]\n');
    process.exit(2);
  }
  const ort = require(path.join(mods || path.join(__dirname, '..', '..', '.deps', 'node', 'node_modules'),
                                'onnxruntime-node'));
  const shape = [1].concat(dims.split(',').map(Number));
  const iters = Number(itersArg);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; ++i) data[i] = Math.random();
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };
  for (let i = 0; i < 20; ++i) await session.run(feeds);
  const us = [];
  for (let i = 0; i < iters; ++i) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    us.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  us.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ median_us: us[us.length >> 1], min_us: us[0], iters }) + '\n');
}

main().catch(e => { process.stderr.write('ort_bench: ' + e.message + '\n'); process.exit(1); });
