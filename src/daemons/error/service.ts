// error(8) as a master.cf service: `error` bounces, and the stock `retry`
// entry (the same program under another service name) defers.
import { transportModule } from '../../global/service/transport-service.js';
import { createErrorAgent } from './error.js';

export default transportModule(() => createErrorAgent());
