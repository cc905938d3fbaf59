/** R3.10 pure parts: update.xml, the ISO reader, the repository reader, prerequisite order and restart needs. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildIso, bufferReader, readRootFile } from '../../src/updates/iso';
import { parseUpdateXml, updateXml, type UpdateMetadata } from '../../src/updates/metadata';
import { orderUpdates, restartNeed } from '../../src/updates/order';
import { isoNamesInListing, openUpdateIso, readUpdateRepository } from '../../src/updates/repository';

const uuid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const meta = (n: number, name: string, o: Partial<UpdateMetadata> = {}): UpdateMetadata => ({
  uuid: uuid(n),
  nameLabel: name,
  version: '1.0',
  description: `${name} fixes`,
  key: 'RPM-GPG-KEY-XS-7.6',
  installationSize: 1000,
  guidance: ['restartHost'],
  requires: { product: 'XenServer', version: '7.6.0', test: 'eq' },
  prerequisites: [],
  ...o,
});

describe('update.xml (R3.10)', () => {
  it('round-trips through the writer and the strict parser', () => {
    const m = meta(1, 'XS76E001', { prerequisites: [uuid(2)], guidance: ['restartHost', 'restartPV'] });
    expect(parseUpdateXml(updateXml(m))).toEqual(m);
  });

  it('reads guidance-mandatory="false" as no guidance, as xapi does', () => {
    const xml = updateXml(meta(1, 'XS76E001')).replace('guidance-mandatory="true"', 'guidance-mandatory="false"');
    expect(parseUpdateXml(xml).guidance).toEqual([]);
  });

  it.each([
    ['a bad guidance', (x: string) => x.replace('after-apply-guidance="restartHost"', 'after-apply-guidance="reboot"'), /guidance.*restartHost/],
    ['a missing uuid', (x: string) => x.replace(/ uuid="[^"]+"/, ''), /lacks the "uuid" attribute/],
    ['an unknown element', (x: string) => x.replace('</update>', '<extra/></update>'), /unknown element <extra>/],
    ['no <requires>', (x: string) => x.replace(/ *<requires [^>]+\/>\n/, ''), /base version/],
    ['a bad prerequisite uuid', (x: string) => x.replace('</update>', '<requiredpatches><requiredpatch uuid="nope"/></requiredpatches></update>'), /prerequisites\.0: a uuid/],
    ['broken XML', (x: string) => x.slice(0, 60), /not well-formed|root/],
  ])('refuses %s, naming the field', (_what, mutate, message) => {
    expect(() => parseUpdateXml(mutate(updateXml(meta(1, 'XS76E001'))))).toThrow(message);
  });
});

describe('ISO 9660 reader', () => {
  it('finds update.xml at the root among other files', async () => {
    const xml = updateXml(meta(1, 'XS76E001'));
    const iso = buildIso([{ name: 'payload.bin', data: Buffer.alloc(10_000, 7) }, { name: 'update.xml', data: Buffer.from(xml) }]);
    expect(await readRootFile(bufferReader(iso))).toBe(xml);
  });

  it('says what is wrong with a file that is not an update ISO', async () => {
    await expect(readRootFile(bufferReader(Buffer.alloc(64 * 1024)))).rejects.toThrow(/not an ISO 9660 image/);
    const iso = buildIso([{ name: 'readme.txt', data: Buffer.from('hi') }]);
    await expect(readRootFile(bufferReader(iso))).rejects.toThrow(/no update.xml in the ISO's root directory \(found: readme.txt\)/);
  });
});

describe('update repository (a directory)', () => {
  it('reads each ISO\'s metadata and reports the unreadable ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xsu-repo-'));
    writeFileSync(join(dir, 'XS76E001.iso'), buildIso([{ name: 'update.xml', data: Buffer.from(updateXml(meta(1, 'XS76E001'))) }]));
    writeFileSync(join(dir, 'broken.iso'), Buffer.from('not an iso'));
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const repo = await readUpdateRepository(dir);
    expect(repo.updates.map((u) => [u.nameLabel, u.source.endsWith('XS76E001.iso'), u.size > 0])).toEqual([['XS76E001', true, true]]);
    expect(repo.problems).toEqual([expect.stringMatching(/^broken\.iso: not an ISO 9660 image/)]);
  });

  it('an unreadable directory is one problem, nothing else', async () => {
    const repo = await readUpdateRepository('/nonexistent/xsupgrade-updates');
    expect(repo.updates).toEqual([]);
    expect(repo.problems).toEqual([expect.stringMatching(/could not be read: ENOENT/)]);
  });

  it('takes only plain .iso names from an autoindex listing', () => {
    expect(isoNamesInListing('<a href="../">..</a><a href="XS76E002.iso">x</a><a href="/etc/x.iso">y</a><a href="XS76E001.iso">z</a>')).toEqual(['XS76E001.iso', 'XS76E002.iso']);
  });
});

describe('order by prerequisites (R3.10)', () => {
  const a = { uuid: uuid(1), nameLabel: 'XS76E001', prerequisites: [] as string[] };
  const b = { uuid: uuid(2), nameLabel: 'XS76E002', prerequisites: [uuid(3)] };
  const c = { uuid: uuid(3), nameLabel: 'XS76E003', prerequisites: [uuid(1)] };

  it('puts prerequisites first, ties by name', () => {
    expect(orderUpdates([b, c, a]).map((u) => u.nameLabel)).toEqual(['XS76E001', 'XS76E003', 'XS76E002']);
  });

  it('accepts a prerequisite the host already has', () => {
    expect(orderUpdates([c], [uuid(1)]).map((u) => u.nameLabel)).toEqual(['XS76E003']);
  });

  it('names a missing prerequisite', () => {
    expect(() => orderUpdates([c], [], new Map([[uuid(1), 'XS76E001']]))).toThrow('XS76E003 needs XS76E001 first, which is neither in the update repository nor applied');
  });

  it('names a cycle', () => {
    const x = { ...a, prerequisites: [uuid(3)] };
    expect(() => orderUpdates([x, c])).toThrow(/cycle: XS76E00[13] → XS76E00[13] → XS76E00[13]/);
  });
});

describe('restart needed once the host is empty (guidance)', () => {
  const u = (n: number, guidance: UpdateMetadata['guidance']) => ({ uuid: uuid(n), guidance });
  it('one reboot covers every restartHost update', () => {
    expect(restartNeed([u(1, ['restartHost']), u(2, ['restartXAPI']), u(3, ['restartHost'])])).toBe('host');
  });
  it('restartXAPI alone: a toolstack restart', () => {
    expect(restartNeed([u(1, ['restartXAPI']), u(2, [])])).toBe('toolstack');
  });
  it('restartHVM/PV on an empty host, or nothing: no restart', () => {
    expect(restartNeed([u(1, ['restartHVM', 'restartPV']), u(2, [])])).toBe('none');
  });
  it('livepatched restartHost updates need no reboot', () => {
    expect(restartNeed([u(1, ['restartHost']), u(2, ['restartXAPI'])], [uuid(1)])).toBe('toolstack');
    expect(restartNeed([u(1, ['restartHost'])], [uuid(1)])).toBe('none');
  });
});

describe('update repository (an http URL on the operator network)', () => {
  it('reads the listing, then each update.xml with Range requests; the upload stream is the whole ISO', async () => {
    const http = await import('node:http');
    const iso = buildIso([{ name: 'update.xml', data: Buffer.from(updateXml(meta(1, 'XS76E001'))) }, { name: 'payload.bin', data: Buffer.alloc(300_000, 1) }]);
    let wholeReads = 0;
    const server = http.createServer((req, res) => {
      if (req.url === '/xs76/') return void res.writeHead(200, { 'content-type': 'text/html' }).end('<a href="../">..</a> <a href="XS76E001.iso">XS76E001.iso</a>');
      if (req.url !== '/xs76/XS76E001.iso') return void res.writeHead(404).end();
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (!m) {
        wholeReads++;
        return void res.writeHead(200, { 'content-length': iso.length }).end(iso);
      }
      const [a, b] = [Number(m[1]), Math.min(Number(m[2]), iso.length - 1)];
      res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${iso.length}`, 'content-length': b - a + 1 }).end(iso.subarray(a, b + 1));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const base = `http://127.0.0.1:${(server.address() as { port: number }).port}/xs76`;
      const repo = await readUpdateRepository(base);
      expect(repo.problems).toEqual([]);
      expect(repo.updates.map((u) => [u.nameLabel, u.source, u.size])).toEqual([['XS76E001', `${base}/XS76E001.iso`, iso.length]]);
      expect(wholeReads).toBe(0); // metadata from a few ranges, never the whole image
      const { size, stream } = await openUpdateIso(repo.updates[0]!.source);
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      expect(size).toBe(iso.length);
      expect(Buffer.concat(chunks).equals(iso)).toBe(true);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
