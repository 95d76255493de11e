/** `fusebatch validate-model`: checks a bundle against its graph and describes it. */

import { loadModelBundle } from '../lambdas/adapters/model-bundle.js';
import { batchFixedAtOne } from '../lambdas/core/graph-check.js';
import { kindOf } from '../lambdas/core/kinds/index.js';
import type { EngineName } from '../lambdas/core/tensor.js';

export async function describeModel(dir: string, engine: EngineName): Promise<string> {
  const model = await loadModelBundle(dir, { engine, threads: 1 });
  await model.engine.close();
  const { manifest, identity, batchLimit } = model;
  const { image, text } = manifest.inputs;
  const lines = [
    `${identity.name} ${identity.version}  sha256 ${identity.sha256}`,
    batchFixedAtOne(manifest, model.engine.inputs)
      ? 'batch fixed at 1 by the graph: one pair per call'
      : `max batch size ${batchLimit}`,
    'inputs:',
  ];
  if (image) {
    lines.push(
      `  image  '${image.tensor}' ${image.layout} ${image.width}x${image.height} ${image.channelOrder}, resize ${image.resize} (${image.resizeKernel}), mean [${image.mean.join(', ')}], std [${image.std.join(', ')}]`,
    );
  }
  if (text) {
    const lengths = text.lengthsTensor ? ` + lengths '${text.lengthsTensor}'` : '';
    if ('vectors' in text) {
      const vectors = model.text?.kind === 'vectors' ? model.text : undefined;
      const oov = text.oov === 'zero' ? 'zero vectors' : `'${text.oov.word}'`;
      lines.push(
        `  text   '${text.tensor}'${lengths}, word vectors ${text.vectors} (${vectors?.words} words, ${vectors?.dim}-d), ${text.layout}, max length ${text.maxLength}, ${text.lowercase ? 'lower-cased, ' : ''}unknown words as ${oov}`,
      );
    } else {
      const mask = text.attentionMaskTensor ? ` + '${text.attentionMaskTensor}'` : '';
      lines.push(
        `  text   '${text.idsTensor}'${mask}${lengths}, ${text.tokenizer}, ${text.layout}, max length ${text.maxLength}`,
      );
    }
  }
  if (!image) lines.push('  (no image: pairs are texts alone)');
  if (!text) lines.push('  (no text: pairs are images alone)');
  lines.push(
    'tasks:',
    ...manifest.tasks.map(
      (t) => `  ${t.name.padEnd(12)} ${t.kind.padEnd(14)} '${t.output}'  ${kindOf(t).describeTask(t)}`,
    ),
  );
  return lines.join('\n');
}
