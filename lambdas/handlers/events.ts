/** The event shapes the handlers take, parsed once at the boundary. */
import * as z from 'zod';

export const S3EventSchema = z.object({
  Records: z.array(
    z.object({
      eventName: z.string(),
      s3: z.object({
        bucket: z.object({ name: z.string() }),
        object: z.object({ key: z.string(), size: z.number().optional(), sequencer: z.string().optional() }),
      }),
    }),
  ),
});
export type S3Event = z.infer<typeof S3EventSchema>;

export const SqsEventSchema = z.object({
  Records: z.array(
    z.object({
      messageId: z.string(),
      body: z.string(),
      attributes: z.record(z.string(), z.string()).optional(),
      eventSource: z.string().optional(),
    }),
  ),
});
export type SqsEvent = z.infer<typeof SqsEventSchema>;

/** What the handlers publish: Powertools Metrics' addMetric, in its units' names. */
export interface MetricsPort {
  addMetric(name: string, unit: 'Count' | 'Milliseconds', value: number): void;
}
