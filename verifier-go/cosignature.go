package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// cosignatureV1 is the signature type byte of C2SP tlog-cosignature v1 (timestamped Ed25519), what witnesses
// such as litewitness sign with. golang.org/x/mod/sumdb/note verifies only Ed25519 notes (type 0x01); it takes
// any other kind through its Verifier interface, which this implements.
const cosignatureV1 = 0x04

type cosignatureVerifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

// newCosignatureVerifier parses `<name>+<hex key id>+<base64(0x04 || 32-byte key)>`, checking the key id.
func newCosignatureVerifier(vkey string) (note.Verifier, error) {
	name, rest, ok := strings.Cut(vkey, "+")
	if !ok {
		return nil, errors.New("malformed verifier key")
	}
	hash16, key64, ok := strings.Cut(rest, "+")
	if !ok || len(hash16) != 8 {
		return nil, errors.New("malformed verifier key")
	}
	hash, err := strconv.ParseUint(hash16, 16, 32)
	if err != nil {
		return nil, errors.New("malformed verifier key id")
	}
	key, err := base64.StdEncoding.DecodeString(key64)
	if err != nil || len(key) != 1+ed25519.PublicKeySize || key[0] != cosignatureV1 {
		return nil, errors.New("not a cosignature/v1 (0x04) Ed25519 key")
	}
	id := sha256.Sum256(append([]byte(name+"\n"), key...))
	if binary.BigEndian.Uint32(id[:4]) != uint32(hash) {
		return nil, errors.New("the key id is not the hash of the name and key")
	}
	return &cosignatureVerifier{name: name, hash: uint32(hash), key: ed25519.PublicKey(key[1:])}, nil
}

func (v *cosignatureVerifier) Name() string    { return v.name }
func (v *cosignatureVerifier) KeyHash() uint32 { return v.hash }

// Verify checks an 8-byte big-endian timestamp then an Ed25519 signature over
// "cosignature/v1\ntime <timestamp>\n" followed by the checkpoint's text.
func (v *cosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	timestamp := binary.BigEndian.Uint64(sig[:8])
	signed := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", timestamp)), msg...)
	return ed25519.Verify(v.key, signed, sig[8:])
}
