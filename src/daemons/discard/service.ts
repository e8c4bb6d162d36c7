// discard(8) as a master.cf service: the transport that reports success
// without delivering.
import { transportModule } from '../../global/service/transport-service.js';
import { createDiscardAgent } from './discard.js';

export default transportModule(() => createDiscardAgent());
