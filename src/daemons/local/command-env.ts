// The environment a delivery command sees: local(8) sets HOME, LOGNAME,
// USER, SHELL, SENDER, RECIPIENT, LOCAL, EXTENSION, DOMAIN,
// ORIGINAL_RECIPIENT and ENVID; pipe(8) the user's HOME/LOGNAME/USER/SHELL.
// Both add export_environment (`NAME` copies ours, `NAME=value` sets it) and
// nothing else of the delivery process's own environment.

/** export_environment items applied over `base`. */
export function withExported(base: Record<string, string>, exportList: readonly string[]): Record<string, string> {
  const env = { ...base };
  for (const name of exportList) {
    const eq = name.indexOf('=');
    if (eq > 0) env[name.slice(0, eq)] = name.slice(eq + 1);
    else if (process.env[name] !== undefined) env[name] = process.env[name] ?? '';
  }
  return env;
}

export interface LocalCommandFacts {
  readonly user: string;
  readonly home: string;
  readonly shell?: string;
  readonly sender: string;
  readonly recipient: string;
  readonly localPart: string;
  readonly extension: string;
  readonly domain: string;
  readonly originalRecipient: string;
  readonly envid?: string;
}

export function localCommandEnvironment(f: LocalCommandFacts, exportList: readonly string[]): Record<string, string> {
  return withExported(
    {
      HOME: f.home || '/',
      LOGNAME: f.user,
      USER: f.user,
      SHELL: f.shell ?? '/bin/sh',
      PATH: '/usr/bin:/bin',
      SENDER: f.sender,
      RECIPIENT: f.recipient,
      LOCAL: f.localPart,
      EXTENSION: f.extension,
      DOMAIN: f.domain,
      ORIGINAL_RECIPIENT: f.originalRecipient,
      ENVID: f.envid ?? '',
    },
    exportList,
  );
}
