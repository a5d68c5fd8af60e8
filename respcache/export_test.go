package respcache

import "encoding/hex"

// CredentialOf is k's credential in hex, as Redis names its generation.
func CredentialOf(k Key) string { return hex.EncodeToString(k.credential[:]) }
