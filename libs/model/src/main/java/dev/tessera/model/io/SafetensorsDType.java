package dev.tessera.model.io;

import dev.tessera.engine.DType;
import java.util.Optional;

/**
 * The element types a safetensors header may name. Every one of them can be opened and checked;
 * only {@link #F32}, {@link #F16} and {@link #BF16} can be read as floats.
 */
public enum SafetensorsDType {
  BOOL(1),
  U8(1),
  I8(1),
  F8_E5M2(1),
  F8_E4M3(1),
  I16(2),
  U16(2),
  F16(2),
  BF16(2),
  I32(4),
  U32(4),
  F32(4),
  F64(8),
  I64(8),
  U64(8);

  private final int bytes;

  SafetensorsDType(int bytes) {
    this.bytes = bytes;
  }

  /** Bytes per element. */
  public int bytes() {
    return bytes;
  }

  /** Whether {@link SafetensorsFile#readFloats} converts this type to fp32. */
  public boolean readableAsFloat() {
    return this == F32 || this == F16 || this == BF16;
  }

  /** The header's spelling of {@code name}, or empty when safetensors has no such type. */
  public static Optional<SafetensorsDType> parse(String name) {
    for (SafetensorsDType type : values()) {
      if (type.name().equals(name)) {
        return Optional.of(type);
      }
    }
    return Optional.empty();
  }

  /** The safetensors type that stores an engine {@link DType}. */
  public static SafetensorsDType of(DType type) {
    return switch (type) {
      case F32 -> F32;
      case BF16 -> BF16;
      case F16 -> F16;
    };
  }
}
