// Postern's own parameters: settings Postfix does not have, for what Postern
// does beyond it. Kept apart from the 3.7 table so the comparison with Postfix's
// parameter set stays exact; every name starts with `postern_`.
import type { ParamSpec } from './types.js';

export const POSTERN_PARAMS: readonly ParamSpec[] = [
  // 0 (default): smtpd sessions in the core worker; 1: in a process of their own; auto: 1 on two or more cores
  // (daemons/master/smtpd-workers.ts; docs/ARCHITECTURE.md "smtpd worker process"; why 0: bench/TRIED.md).
  { name: 'postern_smtpd_workers', def: '0', type: 'string', component: 'master', origin: 'postern' },
];
