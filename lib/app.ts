/** Builds the CDK app: the stack, checked by cdk-nag's AwsSolutions pack at synth. */
import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { FusebatchStack, type FusebatchStackProps } from './fusebatch-stack.js';

export const STACK_NAME = 'Fusebatch';

export function buildApp(appProps: AppProps = {}, stackProps: FusebatchStackProps = {}) {
  const app = new App(appProps);
  const stack = new FusebatchStack(app, STACK_NAME, stackProps);
  const nag = new AwsSolutionsChecks(app, { verbose: true });
  Validations.of(app).addPlugins(nag);
  return { app, stack, nag };
}
