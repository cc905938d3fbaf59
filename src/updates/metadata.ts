/**
 * An update's metadata: the `update.xml` at the root of its ISO (R3.10). xapi's pool_update.introduce reads the same
 * file (xapi_pool_update.ml `extract_update_info`): the `<update>` element's attributes name-label, uuid, version,
 * key, installation-size, after-apply-guidance (space-separated restartHost / restartXAPI / restartHVM / restartPV),
 * guidance-mandatory, and a `<name-description>` child. Two children say what it applies to:
 *   - `<requires originator="xs" name="main" test="eq|ge" product="XenServer" version="7.6.0"/>`: the base version,
 *     in the form of the vendor's supplemental-pack metadata (build-supplemental-pack's `<requires>`);
 *   - `<requiredpatches><requiredpatch uuid="…"/></requiredpatches>`: its prerequisites, as the vendor's update feed
 *     (updates.xml, read by XenCenter and Xen Orchestra) lists them. Where a real hotfix ISO keeps its prerequisites
 *     is not confirmed from a public source (its yum metadata does too); this is the simulator's format.
 * Parsed strictly: an unknown element, a missing field or a bad value is an error naming the field.
 */
import { SaxesParser } from 'saxes';
import { z } from 'zod';

export const GUIDANCES = ['restartHost', 'restartXAPI', 'restartHVM', 'restartPV'] as const;
export type AfterApplyGuidance = (typeof GUIDANCES)[number];

const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'a uuid');
const version = z.string().regex(/^\d+(\.\d+){0,3}$/, 'a version like 1.0 or 7.6.0');

export const updateMetadataSchema = z
  .object({
    uuid,
    nameLabel: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, dots, dashes, underscores (like XS76E001)'),
    version,
    description: z.string().min(1, 'a <name-description>').max(2000),
    key: z.string().max(200),
    installationSize: z.number().int().nonnegative(),
    /** what the host needs after apply; [] when guidance-mandatory is false (as xapi reads it) */
    guidance: z.array(z.enum(GUIDANCES)),
    /** the base product version it applies to, and how ("eq": that version only, "ge": it or later) */
    requires: z.object({ product: z.string().min(1), version, test: z.enum(['eq', 'ge']) }).strict(),
    /** uuids of updates that must be applied first */
    prerequisites: z.array(uuid),
  })
  .strict();

export type UpdateMetadata = z.infer<typeof updateMetadataSchema>;

export class UpdateXmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpdateXmlError';
  }
}

interface El {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: El[];
}

function parseXml(text: string): El {
  const parser = new SaxesParser({ xmlns: false, position: true });
  const stack: El[] = [];
  let root: El | undefined;
  parser.on('opentag', (t) => {
    const el: El = { name: t.name, attrs: Object.fromEntries(Object.entries(t.attributes).map(([k, v]) => [k, String(v)])), text: '', children: [] };
    if (stack.length) stack[stack.length - 1]!.children.push(el);
    else if (root) throw new UpdateXmlError('more than one root element');
    else root = el;
    stack.push(el);
  });
  parser.on('text', (s) => {
    if (stack.length) stack[stack.length - 1]!.text += s;
  });
  parser.on('cdata', (s) => {
    if (stack.length) stack[stack.length - 1]!.text += s;
  });
  parser.on('closetag', () => void stack.pop());
  try {
    parser.write(text).close();
  } catch (e) {
    if (e instanceof UpdateXmlError) throw e;
    throw new UpdateXmlError(`not well-formed XML: ${(e as Error).message}`);
  }
  if (!root) throw new UpdateXmlError('empty document');
  return root;
}

const UPDATE_ATTRS = new Set(['name-label', 'uuid', 'version', 'key', 'installation-size', 'after-apply-guidance', 'guidance-mandatory']);

/** update.xml → metadata; UpdateXmlError naming the field on anything unexpected. */
export function parseUpdateXml(text: string): UpdateMetadata {
  const root = parseXml(text);
  if (root.name !== 'update') throw new UpdateXmlError(`root element is <${root.name}>, expected <update>`);
  for (const a of Object.keys(root.attrs)) if (!UPDATE_ATTRS.has(a)) throw new UpdateXmlError(`<update> has an unknown attribute "${a}"`);
  const need = (a: string): string => {
    const v = root.attrs[a];
    if (v === undefined) throw new UpdateXmlError(`<update> lacks the "${a}" attribute`);
    return v;
  };
  const mandatory = root.attrs['guidance-mandatory'] ?? 'true';
  if (mandatory !== 'true' && mandatory !== 'false') throw new UpdateXmlError(`guidance-mandatory: expected true or false, got "${mandatory}"`);
  const guidanceText = (root.attrs['after-apply-guidance'] ?? '').trim();
  const size = root.attrs['installation-size'] ?? '0';
  if (!/^\d+$/.test(size)) throw new UpdateXmlError(`installation-size: expected a number of bytes, got "${size}"`);
  let description: string | undefined;
  let requires: UpdateMetadata['requires'] | undefined;
  const prerequisites: string[] = [];
  for (const c of root.children) {
    if (c.name === 'name-description') {
      if (description !== undefined) throw new UpdateXmlError('more than one <name-description>');
      description = c.text.trim();
    } else if (c.name === 'requires') {
      if (requires) throw new UpdateXmlError('more than one <requires>');
      const { originator, name, test, product, version: v } = c.attrs;
      if (originator !== 'xs' || name !== 'main') throw new UpdateXmlError(`<requires>: expected originator="xs" name="main", got originator="${originator ?? ''}" name="${name ?? ''}"`);
      requires = { product: product ?? '', version: v ?? '', test: (test ?? '') as 'eq' };
    } else if (c.name === 'requiredpatches') {
      for (const p of c.children) {
        if (p.name !== 'requiredpatch') throw new UpdateXmlError(`<requiredpatches> may hold only <requiredpatch>, found <${p.name}>`);
        prerequisites.push(p.attrs.uuid ?? '');
      }
    } else throw new UpdateXmlError(`unknown element <${c.name}> in <update>`);
  }
  if (!requires) throw new UpdateXmlError('no <requires originator="xs" name="main" …/>: the base version the update is for is unknown');
  const parsed = updateMetadataSchema.safeParse({
    uuid: need('uuid'),
    nameLabel: need('name-label'),
    version: need('version'),
    description: description ?? '',
    key: root.attrs.key ?? '',
    installationSize: Number(size),
    guidance: mandatory === 'false' || guidanceText === '' ? [] : guidanceText.split(/\s+/),
    requires,
    prerequisites,
  });
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new UpdateXmlError(`${i.path.join('.') || '(update)'}: ${i.message}`);
  }
  return parsed.data;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The update.xml text for `m` (the simulator's and the tests' update ISOs). */
export function updateXml(m: UpdateMetadata): string {
  const prereqs = m.prerequisites.length
    ? `  <requiredpatches>\n${m.prerequisites.map((u) => `    <requiredpatch uuid="${esc(u)}"/>\n`).join('')}  </requiredpatches>\n`
    : '';
  return (
    `<?xml version="1.0" ?>\n` +
    `<update name-label="${esc(m.nameLabel)}" uuid="${esc(m.uuid)}" version="${esc(m.version)}" key="${esc(m.key)}" ` +
    `installation-size="${m.installationSize}" after-apply-guidance="${m.guidance.join(' ')}" guidance-mandatory="true">\n` +
    `  <name-description>${esc(m.description)}</name-description>\n` +
    `  <requires originator="xs" name="main" test="${m.requires.test}" product="${esc(m.requires.product)}" version="${esc(m.requires.version)}"/>\n` +
    prereqs +
    `</update>\n`
  );
}
