package main

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// A cosignature litewitness (filippo.io/torchwood v0.6.1, scripts/litewitness.sh) made for a checkpoint of one
// leaf: the bytes of test/verifier/cosignature.test.ts, so both verifiers are held to a witness nobody here wrote.
const (
	witnessVkey = "witness.example/w1+658d5487+BOPaTVUWdpiVpDRiUIGQHCD2RwXnHKhYgeaFJLr/LybM"
	noteText    = "audit-log.example/acme\n1\nAippeebat6pa5MPl5F9+l3ESp+Y1k4INvsHsc4ok+Tw=\n"
	cosignature = "\u2014 witness.example/w1 ZY1UhwAAAABrFp1Svm58ZRHVXgPhGUXSGJfQ+qJnbLLeN6047H3BJfXBoftSdt3kFItUteo+9kcIcD409qEuGBn5yDo7JtuWE33pDg==\n"
)

func TestLitewitnessCosignatureVerifies(t *testing.T) {
	w, err := newCosignatureVerifier(witnessVkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(noteText+"\n"+cosignature), note.VerifierList(w))
	if err != nil {
		t.Fatalf("litewitness's cosignature does not verify: %v", err)
	}
	if len(n.Sigs) != 1 || n.Sigs[0].Name != "witness.example/w1" {
		t.Fatalf("verified signatures: %+v", n.Sigs)
	}
}

func TestAlteredCosignatureIsRefused(t *testing.T) {
	w, err := newCosignatureVerifier(witnessVkey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = note.Open([]byte(strings.Replace(noteText, "\n1\n", "\n2\n", 1)+"\n"+cosignature), note.VerifierList(w))
	var invalid *note.InvalidSignatureError
	if !errors.As(err, &invalid) {
		t.Fatalf("a cosignature over another size: %v, want an invalid signature", err)
	}
}

func TestWitnessKeyIsChecked(t *testing.T) {
	for _, key := range []string{
		strings.Replace(witnessVkey, "658d5487", "658d5488", 1),                        // another key id
		strings.Replace(witnessVkey, "witness.example/w1", "witness.example/w2", 1),    // another name
		"audit-log.example/acme+0da23148+AXaxQx+gZhUO5sknVoodm+kTHNP7fcYXm9NvG+Kemg3P", // an Ed25519 note key (0x01)
		"nonsense",
	} {
		if _, err := newCosignatureVerifier(key); err == nil {
			t.Errorf("%q accepted as a witness key", key)
		}
	}
}

func TestWitnessCosignatureAloneIsNotTheLogsSignature(t *testing.T) {
	w, err := newCosignatureVerifier(witnessVkey)
	if err != nil {
		t.Fatal(err)
	}
	_, vkey, err := note.GenerateKey(rand.Reader, "audit-log.example/acme")
	if err != nil {
		t.Fatal(err)
	}
	logKey, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	// the litewitness note carries the witness's cosignature and no signature of the log's key
	_, _, err = openCheckpoint([]byte(noteText+"\n"+cosignature), note.VerifierList(logKey, w), logKey, []string{witnessVkey}, 1)
	if err == nil || !strings.Contains(err.Error(), "not signed by the log's key") {
		t.Fatalf("a checkpoint the log did not sign: %v, want a refusal", err)
	}
}
