import { JsonQidoScan } from '/work/main/dist/http/edge/qido-scan.js';
const a = (vr, v) => ({ vr, Value: [v] });
const body = Buffer.from(JSON.stringify([{
    '00080005': a('CS', 'ISO_IR 100'), '00080020': a('DA', '20240101'), '00080030': a('TM', '101500'), '00080050': a('SH', 'ACC0001'),
    '00080056': a('CS', 'ONLINE'), '00080061': a('CS', 'CT'), '00080090': a('PN', { Alphabetic: 'Referring^Doctor' }),
    '00081190': a('UR', 'http://127.0.0.1:8042/dicom-web/studies/1.2.826.0.1.3680043.8.498.1'),
    '00100010': a('PN', { Alphabetic: 'Bench^Series' }), '00100020': a('LO', 'PGW-BENCH'), '00100030': a('DA', '19700101'), '00100040': a('CS', 'O'),
    '0020000D': a('UI', '1.2.826.0.1.3680043.8.498.1'), '00200010': a('SH', 'S1'), '00201206': a('IS', 1), '00201208': a('IS', 200),
  }]));
console.log('body bytes', body.length);
const N = 1_000_000;
for (let r = 0; r < 5; r++) {
  const t0 = process.hrtime.bigint();
  let x = 0;
  for (let i = 0; i < N; i++) { const s = new JsonQidoScan('study'); s.feed(body); s.end(); x += s.results + s.patientIds.size; }
  console.log((Number(process.hrtime.bigint() - t0) / N).toFixed(0), 'ns per scan', x / N);
}
