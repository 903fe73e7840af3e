/** The pure TLS pieces of the engine layer (src/engines/tls.ts): pg_hba rewriting and the engines' TLS settings. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { forceTlsInHba, mariadbTlsArgs, postgresTlsLines } from '../../src/engines/tls.js';
import { renderHba } from '../../src/engines/postgres/config.js';

describe('engine TLS settings', () => {
  it('forcing TLS turns admitting host rules into hostssl; reject and local rules stay as they are', () => {
    const hba = renderHba();
    assert.equal(forceTlsInHba(hba, false), hba);
    const forced = forceTlsInHba(hba, true).split('\n');
    const original = hba.split('\n');
    assert.equal(forced.length, original.length);
    for (const [i, line] of original.entries()) {
      if (/^host\s/.test(line) && !/\sreject\s*$/.test(line)) assert.match(forced[i]!, /^hostssl\s+\S+\s+\S+\s+all\s+\S+$/, line);
      else assert.equal(forced[i], line);
    }
    assert.ok(forced.some((l) => l.startsWith('hostssl')), 'at least one rule forced');
    assert.ok(!forced.some((l) => /^host\s/.test(l) && !/reject/.test(l)), 'no plaintext rule left that admits anyone');
  });

  it('quotes the key file path for postgresql.conf and names it twice for mariadbd', () => {
    const lines = postgresTlsLines("/var/lib/cellar/it's/tls/server.pem");
    assert.ok(lines.includes('ssl = on'));
    assert.ok(lines.includes("ssl_cert_file = '/var/lib/cellar/it''s/tls/server.pem'"));
    assert.ok(lines.includes("ssl_key_file = '/var/lib/cellar/it''s/tls/server.pem'"));
    assert.ok(lines.includes("ssl_min_protocol_version = 'TLSv1.2'"));
    assert.deepEqual(mariadbTlsArgs('/d/tls/server.pem').slice(0, 2), ['--ssl-cert=/d/tls/server.pem', '--ssl-key=/d/tls/server.pem']);
  });
});
