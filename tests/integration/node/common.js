'use strict';
// Shared setup for the kafkajs scripts: JSON in on stdin, JSON out on stdout, logs on stderr
// (stdout must carry nothing but the result).
const fs = require('fs');
const { Kafka, logLevel } = require('kafkajs');

function readInput() {
  return JSON.parse(fs.readFileSync(0, 'utf8'));
}

function stderrLogger() {
  return ({ namespace, label, log }) => {
    const { message, ...rest } = log;
    process.stderr.write(`${label} [${namespace}] ${message} ${JSON.stringify(rest)}\n`);
  };
}

function tlsOptions(ssl) {
  const out = { ca: [fs.readFileSync(ssl.ca, 'utf8')] };
  if (ssl.cert) out.cert = fs.readFileSync(ssl.cert, 'utf8');
  if (ssl.key) out.key = fs.readFileSync(ssl.key, 'utf8');
  return out;
}

function makeKafka(input) {
  return new Kafka({
    clientId: 'kafscale-it-node',
    brokers: input.brokers,
    logLevel: logLevel.WARN,
    logCreator: stderrLogger,
    connectionTimeout: 5000,
    requestTimeout: 30000,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
    // Optional SASL: {"mechanism": "scram-sha-256", "username": ..., "password": ...}.
    ...(input.sasl ? { sasl: input.sasl } : {}),
    // Optional TLS: {"ca": path, "cert": path, "key": path} (cert and key for mTLS).
    ...(input.ssl ? { ssl: tlsOptions(input.ssl) } : {}),
  });
}

// Runs main(input) and prints its result as one JSON line; any throw exits 1 with details.
function runMain(main) {
  main(readInput())
    .then((result) => {
      process.stdout.write(JSON.stringify(result) + '\n');
    })
    .catch((err) => {
      process.stderr.write(`FAILED: ${err && err.stack ? err.stack : err}\n`);
      process.exit(1);
    });
}

function describeError(err) {
  return { name: err.name, type: err.type || null, code: err.code ?? null, message: err.message };
}

module.exports = { makeKafka, runMain, describeError };
