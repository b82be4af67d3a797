// agreement.mjs — the JSON Schemas (ajv, draft 2020-12) and the gateway's
// decoder (pw-decode-corpus) judge the same corpus and must agree.
//
//   node tests/schema/agreement.mjs path/to/pw-decode-corpus
//
// For every case of tests/corpus/cases.json this builds the payload bytes,
// validates them with ajv against the schema of the case's kind, runs the
// decoder on the same bytes and topic, and fails the case when:
//   - the decoder's verdict differs from `expect` (per object for batches),
//   - ajv's verdict differs from `schema` ("valid" | "invalid"; bytes that
//     are not UTF-8 JSON count as invalid, as no validator can accept them),
//   - the schema rejects what the decoder accepts (whole message, or any
//     batch element against $defs/telemetry),
//   - the schema accepts what the decoder rejects, unless the reason is one
//     a schema cannot express (schemas/README.md) and the case says why in
//     `beyond_schema` (and a `beyond_schema` that is not needed fails too).
// It also checks that every reject reason except no_memory is expected by
// some case, that rejected.schema.json lists exactly the decoder's reasons,
// and the outbound examples of tests/corpus/outbound.json. Ends with
// "N passed, M failed"; exit status 1 when M > 0, 2 on bad usage.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const SRC = process.env.PW_SOURCE_DIR || path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCHEMA_BASE = 'https://pitwall.example/schemas/v1/';

// Reasons a schema cannot express: they need the topic, the clock or the raw bytes.
const BEYOND_SCHEMA = new Set([
  'too_large', 'bad_utf8', 'bad_json', 'too_deep', 'number_overflow', 'vin_mismatch',
  'bad_vin', 'ts_future', 'ts_too_old', 'bad_dtc', 'bad_topic',
]);

function usage(msg) {
  console.error(`agreement: ${msg}\nusage: node tests/schema/agreement.mjs path/to/pw-decode-corpus`);
  process.exit(2);
}

const bin = process.argv[2];
if (!bin || !fs.existsSync(bin)) usage(`decoder program not found: ${bin}`);

// ---- schemas ---------------------------------------------------------------

const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
for (const f of fs.readdirSync(path.join(SRC, 'schemas')).filter((f) => f.endsWith('.schema.json')).sort()) {
  ajv.addSchema(JSON.parse(fs.readFileSync(path.join(SRC, 'schemas', f), 'utf8')));
}
function validator(ref) {
  const v = ajv.getSchema(SCHEMA_BASE + ref);
  if (!v) usage(`schema ${ref} not found`);
  return v;
}
const SCHEMAS = {
  telemetry: validator('telemetry.schema.json'),
  status: validator('status.schema.json'),
  anpr: validator('anpr.schema.json'),
};
const telemetryObject = validator('telemetry.schema.json#/$defs/telemetry');

// ---- payloads ----------------------------------------------------------------

const corpus = JSON.parse(fs.readFileSync(path.join(SRC, 'tests/corpus/cases.json'), 'utf8'));
const D = corpus.defaults;

const MARK = (i) => `\u0001raw${i}\u0001`;

// JSON text of `value`, where string values MARK(i) become raws[i] (Buffers).
function stringifyWithRaw(value, raws) {
  const text = JSON.stringify(value);
  const parts = [];
  let rest = text;
  for (;;) {
    const m = rest.match(/"\\u0001raw(\d+)\\u0001"/);
    if (!m) break;
    parts.push(Buffer.from(rest.slice(0, m.index), 'utf8'), raws[Number(m[1])]);
    rest = rest.slice(m.index + m[0].length);
  }
  parts.push(Buffer.from(rest, 'utf8'));
  return Buffer.concat(parts);
}

// An object payload from the kind's base: `unset` keys removed, `set` members
// set (JSON values), `raw` members set to literal JSON text, `raw_hex`
// members set to literal bytes, `extra` text appended before the final '}'.
function fromBase(c, kind) {
  const o = structuredClone(corpus.base[kind]);
  const raws = [];
  for (const k of c.unset || []) delete o[k];
  Object.assign(o, c.set || {});
  for (const [k, text] of Object.entries(c.raw || {})) {
    raws.push(Buffer.from(text, 'utf8'));
    o[k] = MARK(raws.length - 1);
  }
  for (const [k, hex] of Object.entries(c.raw_hex || {})) {
    raws.push(Buffer.from(hex, 'hex'));
    o[k] = MARK(raws.length - 1);
  }
  let buf = stringifyWithRaw(o, raws);
  if (c.extra) buf = Buffer.concat([buf.subarray(0, buf.length - 1), Buffer.from(',' + c.extra + '}', 'utf8')]);
  return buf;
}

function generate(g, kind) {
  const base = corpus.base[kind];
  switch (g.gen) {
    case 'pad_to': { // the base object plus "pad":"xxx…", exactly `size` bytes
      const empty = Buffer.byteLength(JSON.stringify({ ...base, pad: '' }));
      if (g.size < empty) throw new Error(`pad_to ${g.size} is below ${empty}`);
      return Buffer.from(JSON.stringify({ ...base, pad: 'x'.repeat(g.size - empty) }));
    }
    case 'nest_open':
      return Buffer.from('['.repeat(g.depth));
    case 'nest_closed':
      return Buffer.from('['.repeat(g.depth) + ']'.repeat(g.depth));
    case 'nest_member': // the base object plus "deep":[[[…]]], `depth` arrays
      return fromBase({ raw: { deep: '['.repeat(g.depth) + ']'.repeat(g.depth) } }, kind);
    case 'batch_of':
      return Buffer.from(JSON.stringify(Array.from({ length: g.count }, (_, i) => ({ ...base, seq: i }))));
    case 'dtc_of': { // `count` distinct codes P0000, P0001, …
      const dtc = Array.from({ length: g.count }, (_, i) => ({
        code: 'P0' + i.toString(16).toUpperCase().padStart(3, '0'),
        status: 'pending',
      }));
      return Buffer.from(JSON.stringify({ ...base, dtc }));
    }
    default:
      throw new Error(`unknown generator ${g.gen}`);
  }
}

// The payload bytes of a case (or of a batch element), `prefix_hex` first.
function buildPayload(c, kind) {
  const body = buildBody(c, kind);
  return c.prefix_hex ? Buffer.concat([Buffer.from(c.prefix_hex, 'hex'), body]) : body;
}

function buildBody(c, kind) {
  if ('hex' in c) return Buffer.from(c.hex.replace(/\s+/g, ''), 'hex');
  if ('text' in c) return Buffer.from(c.text, 'utf8');
  if ('json' in c) return Buffer.from(JSON.stringify(c.json), 'utf8');
  if ('gen' in c) return generate(c, kind);
  if ('batch' in c) {
    const parts = [Buffer.from('[')];
    c.batch.forEach((e, i) => {
      if (i) parts.push(Buffer.from(','));
      parts.push(buildPayload(e, kind));
    });
    parts.push(Buffer.from(']'));
    return Buffer.concat(parts);
  }
  return fromBase(c, kind);
}

function topicOf(c, kind) {
  if (c.topic) return c.topic;
  const vin = c.vin ?? D.vin;
  if (kind === 'anpr') return `pitwall/v1/sites/${c.site ?? D.site}/anpr`;
  return `pitwall/v1/vehicles/${vin}/${kind}`;
}

// ---- run the decoder -----------------------------------------------------------

const reasonsRun = spawnSync(bin, ['--reasons'], { encoding: 'utf8' });
if (reasonsRun.status !== 0) usage(`${bin} --reasons failed: ${reasonsRun.stderr}`);
const REASONS = JSON.parse(reasonsRun.stdout);

const cases = [];
const names = new Set();
const frames = [];
for (const c of corpus.cases) {
  const kind = c.kind || 'telemetry';
  if (!/^[a-z0-9][a-z0-9_.-]*$/.test(c.name || '') || names.has(c.name)) usage(`bad or repeated case name: ${c.name}`);
  names.add(c.name);
  const payload = buildPayload(c, kind);
  const topic = topicOf(c, kind);
  const now = c.now_ms ?? D.now_ms;
  cases.push({ c, kind, payload, topic });
  frames.push(Buffer.from(`${c.name}\t${topic}\t${now}\t${payload.length}\n`), payload);
}
const run = spawnSync(bin, [], { input: Buffer.concat(frames), maxBuffer: 256 * 1024 * 1024 });
if (run.status !== 0) usage(`${bin} exited with ${run.status}: ${run.stderr}`);
const verdicts = new Map();
for (const line of run.stdout.toString('utf8').split('\n').filter(Boolean)) {
  const v = JSON.parse(line);
  verdicts.set(v.name, v);
}

// ---- judge ---------------------------------------------------------------------

function parseJson(buf) {
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf);
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, error: e.message };
  }
}

function ajvErrors(v) {
  return (v.errors || []).slice(0, 3).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}

let passed = 0;
let failed = 0;
const expectedReasons = new Set();

function report(name, problems, note) {
  if (problems.length === 0) {
    passed++;
    return;
  }
  failed++;
  console.log(`FAIL ${name}`);
  for (const p of problems) console.log(`     ${p}`);
  if (note) console.log(`     (${note})`);
}

for (const { c, kind, payload } of cases) {
  const problems = [];
  const out = verdicts.get(c.name);
  if (!out) {
    report(c.name, ['the decoder printed no verdict']);
    continue;
  }
  const readable = out.reason === 'ok';
  const decoder = !readable ? out.reason : out.is_array ? out.items.map((i) => i.reason) : (out.items[0]?.reason ?? 'ok');
  for (const r of [c.expect].flat()) if (r !== 'ok') expectedReasons.add(r);

  if (!isDeepStrictEqual(decoder, c.expect)) {
    problems.push(`decoder: ${JSON.stringify(decoder)}, expected ${JSON.stringify(c.expect)}` +
      ` (${out.detail || out.items.map((i) => i.detail).filter(Boolean).join('; ')})`);
  }
  if ('unknown' in c && readable && out.items[0]?.unknown_fields !== c.unknown) {
    problems.push(`unknown_fields ${out.items[0]?.unknown_fields}, expected ${c.unknown}`);
  }
  if ('detail' in c) {
    const details = [out.detail, ...out.items.map((i) => i.detail)].join(' | ');
    if (!details.includes(c.detail)) problems.push(`detail "${details}" lacks "${c.detail}"`);
  }

  // The schema's verdict on the whole message.
  const parsed = parseJson(payload);
  const validate = SCHEMAS[kind];
  let schema;
  let why = '';
  if (!parsed.ok) {
    schema = 'invalid';
    why = `not UTF-8 JSON: ${parsed.error}`;
  } else {
    schema = validate(parsed.value) ? 'valid' : 'invalid';
    why = ajvErrors(validate);
  }
  if (schema !== c.schema) problems.push(`schema: ${schema}, expected ${c.schema} ${why ? `(${why})` : ''}`);

  // Agreement, whole message and (for readable batches) element by element.
  const verdictPairs = [];
  if (readable && out.is_array && parsed.ok && Array.isArray(parsed.value)) {
    parsed.value.forEach((el, i) => {
      const ok = telemetryObject(el);
      verdictPairs.push({ where: `element ${i}`, schemaValid: ok, reason: out.items[i]?.reason, why: ajvErrors(telemetryObject) });
    });
  } else {
    const whole = Array.isArray(decoder) ? (decoder.every((r) => r === 'ok') ? 'ok' : decoder.find((r) => r !== 'ok')) : decoder;
    verdictPairs.push({ where: 'message', schemaValid: schema === 'valid', reason: whole, why });
  }
  let beyondUsed = false;
  for (const p of verdictPairs) {
    if (!p.schemaValid && p.reason === 'ok') {
      problems.push(`disagreement (${p.where}): the schema rejects (${p.why}), the decoder accepts`);
    } else if (p.schemaValid && p.reason !== 'ok') {
      beyondUsed = true;
      if (!BEYOND_SCHEMA.has(p.reason)) {
        problems.push(`disagreement (${p.where}): the schema accepts, the decoder rejects with ${p.reason}, which a schema can express`);
      } else if (!c.beyond_schema) {
        problems.push(`the schema accepts, the decoder rejects with ${p.reason} (${p.where}): say why in beyond_schema`);
      }
    }
  }
  if (c.beyond_schema && !beyondUsed) problems.push('beyond_schema is given but the schema and the decoder agree');
  report(c.name, problems, c.note);
}

// Every reason is expected somewhere (no_memory needs a failing allocator: unit test).
{
  const missing = REASONS.filter((r) => r !== 'no_memory' && !expectedReasons.has(r));
  const unknown = [...expectedReasons].filter((r) => !REASONS.includes(r));
  report('coverage: every reject reason has a case', [
    ...(missing.length ? [`no case expects: ${missing.join(', ')}`] : []),
    ...(unknown.length ? [`cases expect reasons the decoder does not have: ${unknown.join(', ')}`] : []),
  ]);
}

// rejected.schema.json names exactly the decoder's reasons.
{
  const rejected = JSON.parse(fs.readFileSync(path.join(SRC, 'schemas/rejected.schema.json'), 'utf8'));
  const listed = rejected.properties.reason.enum;
  report('rejected.schema.json: reason enum equals the decoder\'s reasons',
    isDeepStrictEqual([...listed].sort(), [...REASONS].sort()) ? [] : [`schema: ${listed.join(',')}`, `decoder: ${REASONS.join(',')}`]);
}

// Outbound payloads (the gateway produces them): contract examples and near misses.
{
  const outbound = JSON.parse(fs.readFileSync(path.join(SRC, 'tests/corpus/outbound.json'), 'utf8'));
  for (const ex of outbound.examples) {
    const v = validator(ex.schema);
    const got = v(ex.json) ? 'valid' : 'invalid';
    report(`outbound ${ex.name}`, got === ex.expect ? [] : [`${ex.schema}: ${got}, expected ${ex.expect} (${ajvErrors(v)})`]);
  }
}

const byKind = {};
for (const { kind } of cases) byKind[kind] = (byKind[kind] || 0) + 1;
const beyond = corpus.cases.filter((c) => c.beyond_schema).length;
console.log(`schema agreement: ${cases.length} corpus cases (${Object.entries(byKind).map(([k, n]) => `${k} ${n}`).join(', ')}), ` +
  `${beyond} of them schema-valid but rejected for a reason no schema can express; ${REASONS.length} reject reasons`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
