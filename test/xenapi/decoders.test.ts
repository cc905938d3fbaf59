/**
 * The two reply decoders on their own (issue 13): the XML-RPC decoder reads every type of xapi's dialect as the
 * `xmlrpc` package did (and nothing it should refuse); the piecewise JSON decoder gives exactly JSON.parse's value
 * however a large reply is split.
 */
import { JsonDecodeError, decodeJson, decodeJsonWhole } from '../../src/xenapi/json-decode';
import { XmlRpcDecodeError, XmlRpcDecoder, decodeXmlRpc } from '../../src/xenapi/xml-decode';

describe('XML-RPC decoder', () => {
  const response = (v: string) => `<?xml version="1.0"?><methodResponse><params><param>${v}</param></params></methodResponse>`;

  test('every type of xapi dialect, untyped strings included', () => {
    const doc = decodeXmlRpc(
      response(
        '<value><struct>' +
          '<member><name>untyped</name><value>OpaqueRef:a &amp; &lt;b&gt;</value></member>' +
          '<member><name>int64</name><value>4294967296</value></member>' +
          '<member><name>s</name><value><string>x</string></value></member>' +
          '<member><name>empty</name><value></value></member>' +
          '<member><name>i4</name><value><i4>-7</i4></value></member>' +
          '<member><name>int</name><value><int>12</int></value></member>' +
          '<member><name>d</name><value><double>0.25</double></value></member>' +
          '<member><name>t</name><value><boolean>1</boolean></value></member>' +
          '<member><name>f</name><value><boolean>0</boolean></value></member>' +
          '<member><name>when</name><value><dateTime.iso8601>20170407T08:28:32Z</dateTime.iso8601></value></member>' +
          '<member><name>b64</name><value><base64>aGk=</base64></value></member>' +
          '<member><name>nil</name><value><nil/></value></member>' +
          '<member><name>arr</name><value><array><data><value>1</value><value><struct></struct></value><value><array><data></data></array></value></data></array></value></member>' +
          '<member><name>map</name><value><struct><member><name>k y</name><value>v</value></member></struct></value></member>' +
          '</struct></value>',
      ),
    );
    expect(doc).toEqual({
      kind: 'response',
      value: {
        untyped: 'OpaqueRef:a & <b>',
        int64: '4294967296',
        s: 'x',
        empty: '',
        i4: -7,
        int: 12,
        d: 0.25,
        t: true,
        f: false,
        when: new Date('2017-04-07T08:28:32Z'),
        b64: Buffer.from('hi'),
        nil: null,
        arr: ['1', {}, []],
        map: { 'k y': 'v' },
      },
    });
  });

  test('a fault and a methodCall', () => {
    expect(
      decodeXmlRpc(
        '<methodResponse><fault><value><struct><member><name>faultCode</name><value><i4>-1</i4></value></member><member><name>faultString</name><value>no</value></member></struct></value></fault></methodResponse>',
      ),
    ).toEqual({ kind: 'fault', faultCode: -1, faultString: 'no' });
    expect(decodeXmlRpc('<methodCall><methodName>VM.start</methodName><params><param><value>OpaqueRef:s</value></param><param><value><boolean>0</boolean></value></param></params></methodCall>')).toEqual({
      kind: 'call',
      method: 'VM.start',
      params: ['OpaqueRef:s', false],
    });
  });

  test('entities, character references, CDATA, comments, an <?xml?> declaration and attributes are read as XML', () => {
    const text = `<?xml version="1.0" encoding="UTF-8"?>\n<!-- c --><methodResponse><params><param><value a="1"><string>&lt;&amp;&gt;&quot;&apos;&#65;&#x42;<![CDATA[<raw>&amp;]]></string></value></param></params></methodResponse>\n`;
    expect(decodeXmlRpc(text)).toEqual({ kind: 'response', value: '<&>"\'AB<raw>&amp;' });
  });

  test('a "&" that starts no reference is refused, as XML (and XenAPI.py) refuse it; in CDATA it is text', () => {
    for (const bad of ['a & b', 'R&D', 'x&', 'a &foo; b', 'a &amp b', '&#x41']) {
      expect(() => decodeXmlRpc(response(`<value>${bad}</value>`))).toThrow(new XmlRpcDecodeError(`a "&" that starts no character or entity reference: ${JSON.stringify(bad.slice(bad.indexOf('&'), bad.indexOf('&') + 12))}`));
      expect(() => decodeXmlRpc(response(`<value><string>${bad}</string></value>`))).toThrow(/a "&" that starts no character or entity reference/);
      // cut anywhere, the same refusal
      const d = new XmlRpcDecoder();
      const text = response(`<value>${bad}</value>`);
      expect(() => {
        for (let i = 0; i < text.length; i += 3) d.write(text.slice(i, i + 3));
        d.end();
      }).toThrow(/a "&" that starts no character or entity reference/);
    }
    expect(decodeXmlRpc(response('<value><![CDATA[R&D]]></value>'))).toEqual({ kind: 'response', value: 'R&D' });
    expect(decodeXmlRpc(response('<value>R&amp;D &#38; &#x26;</value>'))).toEqual({ kind: 'response', value: 'R&D & &' });
  });

  test('element nesting is bounded even where no struct or array opens', () => {
    const deep = `<methodResponse>${'<params>'.repeat(200)}${'</params>'.repeat(200)}</methodResponse>`;
    expect(() => decodeXmlRpc(deep, 32)).toThrow(/nested deeper than 32 levels/);
  });

  test('written in arbitrary chunks, even mid-tag and mid-entity, it gives the same value', () => {
    const text = response('<value><struct><member><name>a&amp;b</name><value><array><data><value><double>1.5</double></value><value>x&lt;y</value></data></array></value></member></struct></value>');
    for (const size of [1, 2, 3, 7, 64]) {
      const d = new XmlRpcDecoder();
      for (let i = 0; i < text.length; i += size) d.write(text.slice(i, i + size));
      expect(d.end()).toEqual({ kind: 'response', value: { 'a&b': [1.5, 'x<y'] } });
    }
  });

  test('tokens longer than a chunk (CDATA, a comment, a long string, a tag name) are read whole', () => {
    const long = 'x'.repeat(5000);
    const text = response(`<value><struct><member><name>${long}</name><value><string><![CDATA[${long}&amp;]]>&#233;<!-- ${long} -->${long}</string></value></member></struct></value>`);
    for (const size of [1, 3, 100, 4096]) {
      const d = new XmlRpcDecoder();
      for (let i = 0; i < text.length; i += size) d.write(text.slice(i, i + size));
      expect(d.end()).toEqual({ kind: 'response', value: { [long]: `${long}&amp;\u00e9${long}` } });
    }
  });

  describe('recordFields: a get_all_records reply keeps only the fields asked for', () => {
    const member = (n: string, v: string) => `<member><name>${n}</name><value>${v}</value></member>`;
    const record =
      '<struct>' +
      member('name_label', 'web') +
      member('other_config', `<struct>${member('pci', 'x')}${member('deep', '<array><data><value><struct>' + member('member', 'inner') + '</struct></value></data></array>')}</struct>`) +
      member('VBDs', '<array><data><value>OpaqueRef:b</value></data></array>') +
      member('blocked', `<struct>${member('a', '<struct></struct>')}</struct>`) +
      '<member><name>no_value</name></member>' +
      member('power_state', '<string>Running</string>') +
      '</struct>';
    const reply = (records: string) =>
      response(`<value><struct>${member('Status', 'Success')}${member('Value', `<struct>${records}</struct>`)}</struct></value>`);
    const fields = new Set(['name_label', 'other_config', 'power_state']);

    test('other members of each record are not built; nested structs inside kept fields are whole', () => {
      const text = reply(member('OpaqueRef:v1', record) + member('OpaqueRef:v2', record));
      const want = { name_label: 'web', other_config: { pci: 'x', deep: [{ member: 'inner' }] }, power_state: 'Running' };
      expect(decodeXmlRpc(text, 64, { recordFields: fields })).toEqual({ kind: 'response', value: { Status: 'Success', Value: { 'OpaqueRef:v1': want, 'OpaqueRef:v2': want } } });
      // in chunks, split anywhere
      for (const size of [1, 5, 13]) {
        const d = new XmlRpcDecoder(64, { recordFields: fields });
        for (let i = 0; i < text.length; i += size) d.write(text.slice(i, i + size));
        expect(d.end()).toEqual({ kind: 'response', value: { Status: 'Success', Value: { 'OpaqueRef:v1': want, 'OpaqueRef:v2': want } } });
      }
    });

    test('only records are filtered: the envelope, an error reply and other shapes are whole', () => {
      const failure = response(`<value><struct>${member('Status', 'Failure')}${member('ErrorDescription', '<array><data><value>HANDLE_INVALID</value><value>VM</value></data></array>')}</struct></value>`);
      expect(decodeXmlRpc(failure, 64, { recordFields: fields })).toEqual({ kind: 'response', value: { Status: 'Failure', ErrorDescription: ['HANDLE_INVALID', 'VM'] } });
      const single = response(`<value><struct>${member('Status', 'Success')}${member('Value', record)}</struct></value>`);
      expect((decodeXmlRpc(single, 64, { recordFields: fields }) as { value: { Value: Record<string, unknown> } }).value.Value.VBDs).toEqual(['OpaqueRef:b']);
    });


    describe('onRecord: the records of a reply that said Status: Success are handed over as they are read', () => {
      const want = { name_label: 'web', other_config: { pci: 'x', deep: [{ member: 'inner' }] }, power_state: 'Running' };

      test('each record once, in order, the moment its struct closes; the document keeps an empty Value', () => {
        const text = reply(member('OpaqueRef:v1', record) + member('OpaqueRef:v2', record));
        for (const size of [1, 7, text.length]) {
          const seen: Array<[string, unknown]> = [];
          const d = new XmlRpcDecoder(64, { recordFields: fields, onRecord: (ref, rec) => seen.push([ref, rec]) });
          const secondAt = text.indexOf('OpaqueRef:v2');
          for (let i = 0; i < text.length; i += size) {
            d.write(text.slice(i, i + size));
            // the first record is handed over before the second has been read
            if (i + size < secondAt) expect(seen.length).toBeLessThanOrEqual(1);
          }
          expect(seen).toEqual([
            ['OpaqueRef:v1', want],
            ['OpaqueRef:v2', want],
          ]);
          expect(d.end()).toEqual({ kind: 'response', value: { Status: 'Success', Value: {} } });
        }
      });

      test('a Value written before its Status, a failure, or a decoder not told the record fields hands nothing over: the document is whole', () => {
        const onRecord = jest.fn();
        const valueFirst = response(`<value><struct>${member('Value', `<struct>${member('OpaqueRef:v1', record)}</struct>`)}${member('Status', 'Success')}</struct></value>`);
        expect(decodeXmlRpc(valueFirst, 64, { recordFields: fields, onRecord })).toEqual({ kind: 'response', value: { Value: { 'OpaqueRef:v1': want }, Status: 'Success' } });
        const failure = response(`<value><struct>${member('Status', 'Failure')}${member('Value', `<struct>${member('OpaqueRef:v1', record)}</struct>`)}</struct></value>`);
        expect(decodeXmlRpc(failure, 64, { recordFields: fields, onRecord })).toEqual({ kind: 'response', value: { Status: 'Failure', Value: { 'OpaqueRef:v1': want } } });
        // without recordFields nothing is a record
        expect(decodeXmlRpc(reply(member('OpaqueRef:v1', record)), 64, { onRecord })).toMatchObject({ value: { Value: { 'OpaqueRef:v1': { VBDs: ['OpaqueRef:b'] } } } });
        expect(onRecord).not.toHaveBeenCalled();
      });

      test('what onRecord throws stops the decoding and is thrown as it is, then and at every later write', () => {
        class Refused extends Error {}
        const refused = new Refused('record 2 refused');
        const d = new XmlRpcDecoder(64, {
          recordFields: fields,
          onRecord: (ref) => {
            if (ref === 'OpaqueRef:v2') throw refused;
          },
        });
        const text = reply(member('OpaqueRef:v1', record) + member('OpaqueRef:v2', record) + member('OpaqueRef:v3', record));
        expect(() => d.write(text)).toThrow(refused);
        expect(() => d.write('')).toThrow(refused);
        expect(() => d.end()).toThrow(refused);
      });

      test('a record without a member name is refused, as in the whole document', () => {
        const text = reply(`<member><value>${record}</value></member>`);
        const d = new XmlRpcDecoder(64, { recordFields: fields, onRecord: () => undefined });
        expect(() => d.write(text)).toThrow(new XmlRpcDecodeError('struct member without a <name>'));
        expect(() => decodeXmlRpc(text, 64, { recordFields: fields })).toThrow(new XmlRpcDecodeError('struct member without a <name>'));
      });
    });

    /**
     * Fields not kept are skipped without the tokenizer, and kept fields written plainly are read without it too
     * (MemberSkipper, issue 13): whatever their shape, and however the text is cut into chunks, the records must be
     * exactly the kept fields of the whole decode.
     */
    test('skipped fields of every shape, cut anywhere: the records equal the kept fields of the whole decode', () => {
      // mulberry32: a seeded generator, so a failure is the same failure on every run
      let seed = 7;
      const rand = (n: number): number => {
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * n | 0;
      };
      const leaf = (): string =>
        [
          'plain',
          '',
          'a &amp; &lt;b&gt; &#233;',
          '<boolean>1</boolean>',
          '<dateTime.iso8601>20170407T08:28:32Z</dateTime.iso8601>',
          '<int>7</int>',
          '<string>s</string>',
          '<double>0.5</double>',
          '<nil/>',
          '<struct></struct>',
          '<array><data></data></array>',
          '<![CDATA[</value></member><member>]]>',
          '<!-- </member> -->x',
          '<boolean>0</boolean>',
          '<boolean> 1 </boolean>',
          'line\r\nbreak > here',
          'OpaqueRef:4f1c2a8e-6d2b-4c33-9f0e-1a2b3c4d5e6f',
        ][rand(17)]!;
      const value = (depth: number): string => {
        const k = depth > 2 ? 0 : rand(4);
        if (k === 0 || k === 1) return leaf();
        if (k === 2) return `<array><data>${Array.from({ length: rand(3) }, () => `<value>${value(depth + 1)}</value>`).join('')}</data></array>`;
        return `<struct>${Array.from({ length: rand(3) }, (_, i) => member(rand(6) === 0 ? `k&amp;${i}` : `k${i}`, value(depth + 1))).join('')}</struct>`;
      };
      const names = ['uuid', 'name_label', 'other_config', 'VBDs', 'power_state', 'memory', 'flags', 'blocked'];
      for (let round = 0; round < 60; round++) {
        const kept = new Set(names.filter(() => rand(3) === 0));
        const records = Array.from({ length: 1 + rand(4) }, (_, r) => {
          const fields = names.filter(() => rand(4) !== 0).map((n) => {
            const v = value(0);
            // as xapi writes it, or with whitespace and an attribute the skipper hands back to the tokenizer
            return rand(8) === 0 ? `<member>\n <name>${n}</name> <value kind="x">${v}</value></member>` : member(n, v);
          });
          return member(`OpaqueRef:${r}`, `<struct>${fields.join(rand(5) === 0 ? '\n' : '')}</struct>`);
        });
        const text = reply(records.join(''));
        const whole = decodeXmlRpc(text) as { value: { Value: Record<string, Record<string, unknown>> } };
        const want = Object.fromEntries(
          Object.entries(whole.value.Value).map(([ref, rec]) => [ref, Object.fromEntries(Object.entries(rec).filter(([f]) => kept.has(f)))]),
        );
        for (const size of [1, 2, 7, 16, 61, text.length]) {
          const d = new XmlRpcDecoder(64, { recordFields: kept });
          for (let i = 0; i < text.length; i += size) d.write(text.slice(i, i + size));
          expect(d.end()).toEqual({ kind: 'response', value: { Status: 'Success', Value: want } });
        }
      }
    });

    test('kept fields after a skipped one are read without the tokenizer only when plain; entities, types and odd shapes as the tokenizer reads them', () => {
      const kept = new Set(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']);
      const fieldsOf = [
        member('a', 'OpaqueRef:1'),
        member('b', '<array><data><value>OpaqueRef:x</value><value>a &amp; b</value></data></array>'),
        member('c', '<struct><member><name>k&amp;1</name><value>v</value></member><member><name>k2</name><value>&lt;w&gt;</value></member></struct>'),
        member('d', '<boolean>0</boolean>'),
        member('e', '<boolean>1</boolean>'),
        member('f', '<array><data><value><boolean>1</boolean></value></data></array>'),
        member('g', '<struct><member><name>x</name><value><int>3</int></value></member></struct>'),
        member('h', 'tab\there &#233;'),
      ];
      // each kept field right after a skipped one: that is where the skipper meets it
      const text = reply(member('OpaqueRef:v1', `<struct>${fieldsOf.map((f) => member('skipped', 'x') + f).join('')}</struct>`));
      const want = { a: 'OpaqueRef:1', b: ['OpaqueRef:x', 'a & b'], c: { 'k&1': 'v', k2: '<w>' }, d: false, e: true, f: [true], g: { x: 3 }, h: 'tab\there é' };
      for (const size of [5, 64, text.length]) {
        const d = new XmlRpcDecoder(64, { recordFields: kept });
        for (let i = 0; i < text.length; i += size) d.write(text.slice(i, i + size));
        expect(d.end()).toEqual({ kind: 'response', value: { Status: 'Success', Value: { 'OpaqueRef:v1': want } } });
      }
    });

    test.each([
      ['a close tag that closes another element', member('skipped', '<struct><member><name>a</name><value>1</value></struct></member>')],
      ['an unknown element', member('skipped', '<foo>1</foo>')],
      ['a stray "<" in text', member('skipped', 'a < b')],
      ['a record member cut short', '<member><name>skipped</name><value><array><data>'],
      ['a close tag of the record inside a field', member('skipped', '</struct>')],
      ['an element out of place between members', `${member('skipped', 'x')}<value>1</value>${member('skipped2', 'y')}`],
    ])('a skipped field is still refused when malformed: %s', (_what, fields) => {
      const text = reply(member('OpaqueRef:v1', `<struct>${member('ignored', 'x')}${fields}${member('name_label', 'web')}</struct>`));
      for (const size of [1, 3, 8, text.length]) {
        const d = new XmlRpcDecoder(64, { recordFields: fields.includes('name_label') ? new Set(['power_state']) : new Set(['name_label']) });
        expect(() => {
          for (let i = 0; i < text.length; i += size) d.write(text.slice(i, i + size));
          d.end();
        }).toThrow();
      }
    });

    test('a skipped field still counts for the depth limit and must be well-formed', () => {
      const deep = '<array><data><value>'.repeat(10) + 'x' + '</value></data></array>'.repeat(10);
      const text = reply(member('OpaqueRef:v1', `<struct>${member('skipped', deep)}</struct>`));
      expect(() => decodeXmlRpc(text, 8, { recordFields: fields })).toThrow(/nested deeper than 8 levels/);
      expect(() => decodeXmlRpc(reply(member('OpaqueRef:v1', `<struct>${member('skipped', '<array><data>')}</struct>`)), 64, { recordFields: fields })).toThrow();
    });
  });

  test.each([
    ['an unknown element', response('<value><foo>1</foo></value>')],
    ['a bad boolean', response('<value><boolean>yes</boolean></value>')],
    ['a bad int', response('<value><int>1.5</int></value>')],
    ['a bad date', response('<value><dateTime.iso8601>tomorrow</dateTime.iso8601></value>')],
    ['a struct member without a name', response('<value><struct><member><value>1</value></member></struct></value>')],
    ['two values in a response', '<methodResponse><params><param><value>1</value><value>2</value></param></params></methodResponse>'],
    ['no value', '<methodResponse><params></params></methodResponse>'],
    ['an unclosed document', response('<value><array><data>').slice(0, -30)],
    ['another root', '<html><body/></html>'],
    // the tokenizer forgives these; the decoder must not
    ['a close tag that closes another element', response('<value><array><data></value></data></array>')],
    ['a close tag of nothing open', `${response('<value>1</value>')}</param>`],
    ['a stray "<" in text', response('<value>a < b</value>')],
    ['text outside the root', `${response('<value>1</value>')}trailing`],
    ['a second root', `${response('<value>1</value>')}${response('<value>2</value>')}`],
    ['a declaration', `<!ELEMENT value ANY>${response('<value>1</value>')}`],
    ['a tag cut by the end of the document', `${response('<value>1</value>').slice(0, -1)}`],
  ])('refuses %s', (_what, text) => {
    expect(() => decodeXmlRpc(text)).toThrow();
  });
});

describe('JSON decoder', () => {
  /** A get_all_records-like reply of `n` records (~1 KB each), with awkward keys and strings. */
  function records(n: number): unknown {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      out[`OpaqueRef:${i}:{[,"\\]}`] = {
        name_label: `vm ${i}, "quoted" [x] {y} \\ \u00e9`,
        memory: i * 1024,
        other_config: { 'a:b': 'c,d', nested: { list: [1, [2, [3]], { k: 'v' }] } },
        VBDs: Array.from({ length: 8 }, (_, k) => `OpaqueRef:vbd-${i}-${k}`),
        pad: 'p'.repeat(600),
      };
    }
    return out;
  }

  test.each([10, 2000])('%i records: the same value as JSON.parse, whether parsed at once or in pieces', async (n) => {
    const reply = { jsonrpc: '2.0', result: records(n), id: 1 };
    const text = JSON.stringify(reply);
    expect(await decodeJson(text, 32)).toEqual(JSON.parse(text));
    expect(await decodeJson(text, 32, { wholeParseBytes: 0 })).toEqual(JSON.parse(text)); // forced through the piecewise parser
  });

  test.each([10, 2000])('%i records with recordFields: each record keeps only those fields, the envelope is whole', async (n) => {
    const fields = new Set(['name_label', 'other_config', 'absent']);
    const want = (r: unknown) =>
      Object.fromEntries(Object.entries(r as Record<string, Record<string, unknown>>).map(([k, v]) => [k, { name_label: v.name_label, other_config: v.other_config }]));
    for (const reply of [
      { jsonrpc: '2.0', result: records(n), id: 1 },
      { result: records(n), error: null, id: 1 },
    ]) {
      const decoded = (await decodeJson(JSON.stringify(reply), 32, { recordFields: fields })) as Record<string, unknown>;
      // small replies are parsed whole and left to the record schema to strip; large ones are projected as parsed
      expect({ ...decoded, result: n > 100 ? decoded.result : want(decoded.result) }).toEqual({ ...reply, result: want(reply.result) });
    }
    const failure = { result: null, error: ['HANDLE_INVALID', 'VM', 'x'.repeat(300_000)], id: 1 };
    expect(await decodeJson(JSON.stringify(failure), 32, { recordFields: fields })).toEqual(failure);
  });

  test('depth is refused on both paths, and accepted at the limit', async () => {
    const nested = (d: number) => `${'['.repeat(d)}1${']'.repeat(d)}`;
    for (const whole of [undefined, 0]) {
      await expect(decodeJson(nested(33), 32, { wholeParseBytes: whole })).rejects.toThrow(/nested deeper than 32 levels/);
      await expect(decodeJson(nested(32), 32, { wholeParseBytes: whole })).resolves.toBeDefined();
      await expect(decodeJson(`{"a":${nested(40)}}`, 32, { wholeParseBytes: whole })).rejects.toThrow(/nested deeper/);
    }
    // a decode thread's whole parse (decodeJsonWhole) draws the line at the same place
    expect(() => decodeJsonWhole(nested(33), 32)).toThrow(/nested deeper than 32 levels/);
    expect(decodeJsonWhole(nested(32), 32)).toBeDefined();
    expect(() => decodeJsonWhole(`{"a":[1,{"b":${nested(31)}}]}`, 32)).toThrow(/nested deeper than 32 levels/);
    expect(() => decodeJsonWhole(nested(200_000), 32)).toThrow(/nested deeper than 32 levels/);
    expect(() => decodeJsonWhole('{"a":', 32)).toThrow(JsonDecodeError);
    const text = JSON.stringify({ result: { r1: { a: [1, 'x', { b: null }], c: 'é"\\' } }, error: null });
    expect(decodeJsonWhole(text, 32)).toEqual(JSON.parse(text));
  });

  test('brackets inside strings do not count, whatever the escapes around them', async () => {
    const value = { a: 'x"[[[[[[', b: '\\', c: '\\"{{{{{{', [`k"[[[[`]: ['\\[[[['], d: '[[[[[[[[' };
    const text = JSON.stringify(value);
    expect(await decodeJson(text, 2)).toEqual(value);
    expect(await decodeJson(text, 2, { wholeParseBytes: 0 })).toEqual(value);
    // past a string ending in an escaped backslash, the brackets count again
    await expect(decodeJson('{"a":"\\\\","b":[[[1]]]}', 2)).rejects.toThrow(/nested deeper than 2 levels/);
  });

  test('a large array of large arrays (event.from-like) and a large top-level string', async () => {
    const events = Array.from({ length: 1500 }, (_, i) => ({ id: i, snapshot: { big: 'z'.repeat(400), list: Array.from({ length: 20 }, (_, k) => k) } }));
    const text = JSON.stringify({ result: { events, token: 't', valid_ref_counts: { vm: 3 } }, error: null, id: 2, note: 'q'.repeat(300_000) });
    expect(await decodeJson(text, 32, { wholeParseBytes: 0 })).toEqual(JSON.parse(text));
  });

  test('malformed large input is refused, not half-parsed', async () => {
    const text = JSON.stringify({ result: records(1000), id: 1 });
    for (const whole of [undefined, 0]) {
      await expect(decodeJson(text.slice(0, text.length - 10), 32, { wholeParseBytes: whole })).rejects.toThrow();
      await expect(decodeJson(`${text}x`, 32, { wholeParseBytes: whole })).rejects.toThrow();
      await expect(decodeJson(text.replace('"memory":5120', '"memory":5120,,'), 32, { wholeParseBytes: whole })).rejects.toThrow();
    }
  });
});
