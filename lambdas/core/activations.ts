export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const exps = Array.from(logits, (x) => Math.exp(x - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

export function activate(kind: 'softmax' | 'sigmoid' | 'identity', values: ArrayLike<number>): number[] {
  if (kind === 'softmax') return softmax(values);
  if (kind === 'sigmoid') return Array.from(values, sigmoid);
  return Array.from(values);
}
