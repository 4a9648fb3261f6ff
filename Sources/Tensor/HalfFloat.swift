// Conversions from the 16-bit floating-point formats stored in checkpoints (IEEE 754 binary16 "half" and
// bfloat16) to Float32. Both are exact: every half and every bfloat16 value is representable as a Float.

extension Float {
  /// Decodes an IEEE 754 binary16 ("half", safetensors `F16`) bit pattern.
  ///
  /// Exact for every input: normal numbers, subnormals (down to 2⁻²⁴), signed zeros and infinities.
  /// NaNs stay NaN with their sign and payload (shifted into the high bits of the Float32 payload).
  public init(halfBits bits: UInt16) {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x03FF)
    switch exponent {
    case 0:
      // Zero or subnormal: mantissa × 2⁻²⁴, exact in Float32 (at most 10 significant bits).
      let magnitude = Float(mantissa) * 0x1p-24
      self = sign == 0 ? magnitude : -magnitude
    case 0x1F:
      // Infinity (mantissa 0) or NaN (payload kept, so a NaN never turns into an infinity).
      self = Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    default:
      // Normal: rebias the exponent from 15 to 127 and widen the mantissa from 10 to 23 bits.
      self = Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }
  }

  /// Decodes a bfloat16 (safetensors `BF16`) bit pattern: the high half of a Float32, so the conversion is
  /// exact for every input, subnormals, infinities and NaNs included.
  public init(bfloat16Bits bits: UInt16) {
    self = Float(bitPattern: UInt32(bits) << 16)
  }
}
