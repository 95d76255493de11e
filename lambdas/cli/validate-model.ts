/** `fusebatch validate-model`: checks a bundle against its graph and describes it. */

import { loadModelBundle } from '../adapters/model-bundle.js';
import { kindOf } from '../core/kinds/index.js';
import type { EngineName } from '../core/tensor.js';

export async function describeModel(dir: string, engine: EngineName): Promise<string> {
  const model = await loadModelBundle(dir, { engine, threads: 1 });
  await model.engine.close();
  const { manifest, identity } = model;
  const { image, text } = manifest.inputs;
  const lines = [
    `${identity.name} ${identity.version}  sha256 ${identity.sha256}`,
    `max batch size ${manifest.maxBatchSize}`,
    'inputs:',
    `  image  '${image.tensor}' ${image.layout} ${image.width}x${image.height} ${image.channelOrder}, resize ${image.resize} (${image.resizeKernel}), mean [${image.mean.join(', ')}], std [${image.std.join(', ')}]`,
    `  text   '${text.idsTensor}'${text.attentionMaskTensor ? ` + '${text.attentionMaskTensor}'` : ''}, ${text.tokenizer}, max length ${text.maxLength}`,
    'tasks:',
    ...manifest.tasks.map(
      (t) => `  ${t.name.padEnd(12)} ${t.kind.padEnd(14)} '${t.output}'  ${kindOf(t).describeTask(t)}`,
    ),
  ];
  return lines.join('\n');
}
