package dev.tessera.engine.ops;

/**
 * How {@link Attention} masks a packed row, a row of several training samples back to back. Both
 * modes are causal: a query never sees a later token.
 */
public enum AttentionMask {
  /**
   * One causal mask over the whole row: a query attends to every earlier token of the row, across
   * sample boundaries (what Open-Qwen2VL trained with).
   */
  CONTINUOUS,
  /**
   * Block-diagonal causal mask: a query attends only to the tokens of its own sample at or before
   * it, as if each sample were a row of its own. Tessera's default.
   */
  DOCUMENT
}
