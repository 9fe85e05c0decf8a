# The size of each token-signing key, read from its PEM text at plan time (CreateAuthorizer
# refuses RSA keys under 2,048 bits; a plan that passes should apply). Terraform has no
# DER parser and base64decode() refuses binary, so the first 36 bytes are decoded here by
# hand and the RSA modulus length is read from the fixed DER layout of a key of 2,048 bits
# or more:
#   "PUBLIC KEY" (SubjectPublicKeyInfo):
#     30 82 LL LL 30 0d 06 09 2a864886f70d010101 05 00 03 82 LL LL 00 30 82 LL LL 02 82 [N N]
#   "RSA PUBLIC KEY" (PKCS#1): 30 82 LL LL 02 82 [N N]
# N N is the length in bytes of the modulus INTEGER; a modulus of 2,048 bits or more has its
# top bit set, so DER adds a 0x00 byte: N >= 257 exactly when the key has >= 2,048 bits.
# Anything else (a smaller key, another algorithm) counts as 0 bits and is refused.

locals {
  base64_alphabet = split("", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

  signing_key_digits = {
    for name, pem in var.token_signing_public_keys : name => try([
      for c in split("", substr(replace(replace(pem, "/-----[A-Z ]+-----/", ""), "/\\s/", ""), 0, 48)) :
      index(local.base64_alphabet, c)
    ], [])
  }

  signing_key_der = {
    for name, d in local.signing_key_digits : name => length(d) < 48 ? [] : flatten([
      for g in range(12) : [
        d[4 * g] * 4 + floor(d[4 * g + 1] / 16),
        (d[4 * g + 1] % 16) * 16 + floor(d[4 * g + 2] / 4),
        (d[4 * g + 2] % 4) * 64 + d[4 * g + 3],
      ]
    ])
  }

  spki_rsa_header = [48, 130, -1, -1, 48, 13, 6, 9, 42, 134, 72, 134, 247, 13, 1, 1, 1, 5, 0, 3, 130, -1, -1, 0, 48, 130, -1, -1, 2, 130]
  pkcs1_header    = [48, 130, -1, -1, 2, 130]

  signing_key_bits = {
    for name, b in local.signing_key_der : name => (
      length(b) < 36 ? 0 :
      alltrue([for i, v in local.spki_rsa_header : v < 0 || b[i] == v]) ? (b[30] * 256 + b[31] - 1) * 8 :
      alltrue([for i, v in local.pkcs1_header : v < 0 || b[i] == v]) ? (b[6] * 256 + b[7] - 1) * 8 :
      0
    )
  }
}
