/** The CDK app (cdk.json runs it): `npx cdk synth`, `npx cdk deploy`. */
import { buildApp } from '../lib/app.js';

buildApp();
