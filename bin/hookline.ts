import { createApp } from '../lib/app.ts';

/** The CDK app `cdk synth` and `cdk deploy` run; its settings are context (lib/app.ts). */
createApp();
