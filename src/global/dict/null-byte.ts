// The terminating null byte in indexed tables. Postfix's C tables may store
// each key and value with its trailing NUL (the Linux default for hash,
// btree and lmdb) or without (the cdb default); postmap/postalias `-N` and
// `-n` choose, and a reader not told tries both (dict.h's DICT_FLAG_TRY1NULL
// and DICT_FLAG_TRY0NULL). Files exchanged with Postfix's tools depend on it.

/** `both`: not decided (readers try with, then without); `with` (-N); `without` (-n). */
export type NullMode = 'both' | 'with' | 'without';

/** `-N`/`-n` as given on a command line; the later option wins, as getopt order does in Postfix. */
export function nullModeFromFlags(flags: ReadonlySet<string>, argv: readonly string[]): NullMode {
  let mode: NullMode = 'both';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--' || !a.startsWith('-') || a === '-') break;
    for (let j = 1; j < a.length; j++) {
      const c = a[j];
      if (c === 'N' && flags.has('N')) mode = 'with';
      else if (c === 'n' && flags.has('n')) mode = 'without';
      else if (c !== undefined && 'cdq'.includes(c)) {
        // The rest of this word, or else the next word, is the option's argument.
        if (j === a.length - 1) i++;
        break;
      }
    }
  }
  return mode;
}

/** Whether a table being written stores the NUL: the option, else the type's own default. */
export function writesNull(mode: NullMode, typeDefault: boolean): boolean {
  return mode === 'both' ? typeDefault : mode === 'with';
}

/** The byte strings to try for `key`, in Postfix's order (with the NUL first). */
export function keyVariants(key: string, mode: NullMode): Buffer[] {
  const bare = Buffer.from(key, 'utf8');
  const withNul = Buffer.concat([bare, NUL]);
  return mode === 'with' ? [withNul] : mode === 'without' ? [bare] : [withNul, bare];
}

/** The stored form of `text`. */
export function encodeStored(text: string, withNull: boolean): Buffer {
  const b = Buffer.from(text, 'utf8');
  return withNull ? Buffer.concat([b, NUL]) : b;
}

/** Stored bytes as text: C readers stop at the first NUL, so that is where the text ends. */
export function decodeStored(b: Uint8Array): string {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const nul = buf.indexOf(0);
  return (nul < 0 ? buf : buf.subarray(0, nul)).toString('utf8');
}

const NUL = Buffer.from([0]);
