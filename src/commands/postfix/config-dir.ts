// Which configuration directory a command uses: `-c dir`, else $MAIL_CONFIG,
// else Postfix's compiled-in /etc/postfix (the rule every Postfix command follows).
import { resolve } from 'node:path';

export const DEFAULT_CONFIG_DIRECTORY = '/etc/postfix';

export function configDirectory(option?: string): string {
  const dir = option ?? process.env.MAIL_CONFIG ?? DEFAULT_CONFIG_DIRECTORY;
  return resolve(dir);
}
