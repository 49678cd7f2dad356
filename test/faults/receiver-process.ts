import { type FaultyReceiverOptions, startFaultyReceiver } from './faulty-receiver.ts';

/**
 * The faulty receiver in a process of its own (FAULTY_RECEIVER_OPTIONS: the
 * options as JSON), so its answers never wait on the runtime's work and its
 * memory is its own. Prints "listening <port>"; SIGINT or SIGTERM stops it.
 */

const options = JSON.parse(process.env.FAULTY_RECEIVER_OPTIONS ?? '{}') as FaultyReceiverOptions;
const receiver = await startFaultyReceiver(options);
process.stdout.write(`listening ${new URL(receiver.origin).port}\n`);
const stop = () => void receiver.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
