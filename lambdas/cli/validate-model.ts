/** `fusebatch validate-model`: checks a bundle against its graph and describes it. */

import { loadModelBundle } from '../adapters/model-bundle.js';
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
    ...manifest.tasks.map((t) => {
      const detail =
        t.kind === 'classification'
          ? `${t.labels.length} labels, ${t.activation}, top ${t.topK}`
          : t.kind === 'multilabel'
            ? `${t.labels.length} labels, ${t.activation} >= ${t.threshold}`
            : t.kind === 'score'
              ? `${t.activation}${t.threshold === undefined ? '' : ` >= ${t.threshold}`}`
              : t.kind === 'segmentation'
                ? `${t.activation} >= ${t.threshold}, mask at the original image size`
                : t.activation;
      return `  ${t.name.padEnd(12)} ${t.kind.padEnd(14)} '${t.output}'  ${detail}`;
    }),
  ];
  return lines.join('\n');
}
