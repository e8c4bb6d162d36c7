// A Logger that keeps lines in memory: for tests of any component, and for
// commands that collect warnings before deciding where to print them.
import { FatalError, type Logger, type Severity } from './logger.js';

export interface LoggedLine {
  readonly tag: string;
  readonly severity: Severity;
  readonly text: string;
}

export class MemoryLogger implements Logger {
  constructor(
    readonly tag = 'postfix/test',
    readonly lines: LoggedLine[] = [],
  ) {}

  private add(severity: Severity, text: string): void {
    this.lines.push({ tag: this.tag, severity, text });
  }
  info(text: string): void {
    this.add('info', text);
  }
  warning(text: string): void {
    this.add('warning', text);
  }
  error(text: string): void {
    this.add('error', text);
  }
  fatal(text: string): never {
    this.add('fatal', text);
    throw new FatalError(text);
  }
  panic(text: string): never {
    this.add('panic', text);
    throw new FatalError(text, 'panic');
  }
  child(service: string): MemoryLogger {
    const base = this.tag.split('/')[0] ?? 'postfix';
    return new MemoryLogger(`${base}/${service}`, this.lines);
  }
  /** Lines as Postfix would print their text part, e.g. `warning: ...`. */
  texts(): string[] {
    return this.lines.map((l) => (l.severity === 'info' ? l.text : `${l.severity}: ${l.text}`));
  }
}
