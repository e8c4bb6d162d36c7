// RFC 3461 section 4 "xtext": the encoding of DSN ORCPT and ENVID values and
// of XCLIENT/XFORWARD attributes. Printable ASCII except "+" and "=" stands
// for itself; "+XX" (upper-case hex) encodes any other byte.

/** Decoded text, or undefined when `s` is not valid xtext. */
export function decodeXtext(s: string): string | undefined {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      out += String.fromCharCode(Number.parseInt(hex, 16));
      i += 2;
    } else if (c < 0x21 || c > 0x7e || c === 0x3d) {
      return undefined;
    } else {
      out += s[i];
    }
  }
  return out;
}

export function isXtext(s: string): boolean {
  return decodeXtext(s) !== undefined;
}
