// Command verifier-go checks an audit-log tenant's log from outside, with Go's own transparency-log packages
// (golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog) and nothing of the service's code: it reads the
// C2SP checkpoint and hash tiles over HTTP (/logs/{tenant}/checkpoint, /logs/{tenant}/tile/...), verifies the
// checkpoint's signature (and, given witness keys, a quorum of C2SP cosignature/v1 cosignatures), proves that
// each receipt's leaf hash is in the tree at its seq, and that an older checkpoint is a prefix of the current one.
//
//	verifier-go -url http://127.0.0.1:3000 -tenant acme -token alk_... -vkey 'audit.example.com/acme+1a2b3c4d+AX...' \
//	  [-receipts receipts.json] [-old-checkpoint old.note] [-save-checkpoint new.note] [-witness VKEY]... [-quorum K]
package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var witnesses stringList
	base := flag.String("url", "", "the service's base URL")
	tenant := flag.String("tenant", "", "the tenant whose log to check")
	token := flag.String("token", os.Getenv("AUDIT_LOG_TOKEN"), "a bearer token or API key of a reader or monitor of the tenant (default $AUDIT_LOG_TOKEN; none for a public log)")
	vkey := flag.String("vkey", "", "the log's C2SP verifier key, kept outside the service (GET /integrity/keys?tenant=)")
	receipts := flag.String("receipts", "", "a JSON file of receipts ([{seq, leaf_hash}, ...]) to prove in the tree")
	oldCheckpoint := flag.String("old-checkpoint", "", "a checkpoint note saved earlier: the current tree must extend it")
	saveCheckpoint := flag.String("save-checkpoint", "", "where to write the current checkpoint note, once verified")
	flag.Var(&witnesses, "witness", "a witness's C2SP cosignature/v1 verifier key (repeatable)")
	quorum := flag.Int("quorum", 0, "how many of the -witness keys must have cosigned (0: all given)")
	flag.Parse()
	if *base == "" || *tenant == "" || *vkey == "" {
		fmt.Fprintln(os.Stderr, "verifier-go: -url, -tenant and -vkey are required")
		flag.Usage()
		os.Exit(2)
	}
	client := &logClient{base: strings.TrimRight(*base, "/") + "/logs/" + pathEscape(*tenant) + "/", token: *token, http: &http.Client{Timeout: 30 * time.Second}}
	if err := run(client, *vkey, witnesses, *quorum, *receipts, *oldCheckpoint, *saveCheckpoint); err != nil {
		fmt.Fprintln(os.Stderr, "verifier-go: FAILED:", err)
		os.Exit(1)
	}
	fmt.Println("verifier-go: all checks passed")
}

func run(client *logClient, vkey string, witnessKeys []string, quorum int, receiptsFile, oldFile, saveFile string) error {
	logVerifier, err := note.NewVerifier(vkey)
	if err != nil {
		return fmt.Errorf("the log's verifier key: %w", err)
	}
	verifiers := []note.Verifier{logVerifier}
	for _, key := range witnessKeys {
		w, err := newCosignatureVerifier(key)
		if err != nil {
			return fmt.Errorf("witness key %q: %w", key, err)
		}
		verifiers = append(verifiers, w)
	}
	if quorum == 0 {
		quorum = len(witnessKeys)
	}
	if quorum > len(witnessKeys) {
		return fmt.Errorf("a quorum of %d needs as many -witness keys (%d given)", quorum, len(witnessKeys))
	}

	msg, err := client.get("checkpoint")
	if err != nil {
		return err
	}
	tree, origin, err := openCheckpoint(msg, note.VerifierList(verifiers...), logVerifier, witnessKeys, quorum)
	if err != nil {
		return fmt.Errorf("the current checkpoint: %w", err)
	}
	fmt.Printf("ok  checkpoint of %s: size %d, root %s, signed by %s\n", origin, tree.N, tree.Hash, logVerifier.Name())

	hashes := tlog.TileHashReader(tree, &tileReader{client: client})

	if receiptsFile != "" {
		records, err := readReceipts(receiptsFile)
		if err != nil {
			return err
		}
		for _, r := range records {
			if r.index >= tree.N {
				return fmt.Errorf("receipt of seq %d: not in the tree of size %d yet", r.index+1, tree.N)
			}
			proof, err := tlog.ProveRecord(tree.N, r.index, hashes)
			if err != nil {
				return fmt.Errorf("receipt of seq %d: no inclusion proof from the tiles: %w", r.index+1, err)
			}
			if err := tlog.CheckRecord(proof, tree.N, tree.Hash, r.index, r.hash); err != nil {
				return fmt.Errorf("receipt of seq %d: its leaf hash is not at that seq in the signed tree: %w", r.index+1, err)
			}
		}
		fmt.Printf("ok  inclusion of %d receipts' leaf hashes in the tree of size %d\n", len(records), tree.N)
	}

	if oldFile != "" {
		oldMsg, err := os.ReadFile(oldFile)
		if err != nil {
			return err
		}
		// the old checkpoint needs the log's signature only: witnesses may have cosigned it later, or not at all
		old, oldOrigin, err := openCheckpoint(oldMsg, note.VerifierList(logVerifier), logVerifier, nil, 0)
		if err != nil {
			return fmt.Errorf("the old checkpoint: %w", err)
		}
		if oldOrigin != origin {
			return fmt.Errorf("the old checkpoint is of another log (%s, not %s)", oldOrigin, origin)
		}
		switch {
		case old.N > tree.N:
			return fmt.Errorf("the log shrank: the old checkpoint has %d leaves, the current one %d", old.N, tree.N)
		case old.N == tree.N:
			if old.Hash != tree.Hash {
				return fmt.Errorf("two roots for size %d: a split view or a rewritten history", tree.N)
			}
		default:
			proof, err := tlog.ProveTree(tree.N, old.N, hashes)
			if err != nil {
				return fmt.Errorf("no consistency proof from the tiles: %w", err)
			}
			if err := tlog.CheckTree(proof, tree.N, tree.Hash, old.N, old.Hash); err != nil {
				return fmt.Errorf("the tree of size %d does not extend the old one of size %d: %w", tree.N, old.N, err)
			}
		}
		fmt.Printf("ok  consistency: the tree of size %d extends the old checkpoint of size %d\n", tree.N, old.N)
	}

	if saveFile != "" {
		if err := os.WriteFile(saveFile, msg, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// openCheckpoint verifies a C2SP checkpoint note and reads its three lines. The log's key name must be the
// origin (C2SP tlog-checkpoint); of the witness keys, at least quorum must have cosigned.
func openCheckpoint(msg []byte, verifiers note.Verifiers, log note.Verifier, witnessKeys []string, quorum int) (tlog.Tree, string, error) {
	n, err := note.Open(msg, verifiers)
	if err != nil {
		return tlog.Tree{}, "", err
	}
	// note.Open succeeds once any known key signed: a witness's cosignature alone must not stand for the log's signature
	if !signedBy(n, log) {
		return tlog.Tree{}, "", fmt.Errorf("not signed by the log's key %s", log.Name())
	}
	logName := log.Name()
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return tlog.Tree{}, "", errors.New("a checkpoint has an origin, a size and a root hash")
	}
	origin := lines[0]
	if origin != logName {
		return tlog.Tree{}, "", fmt.Errorf("the origin %q is not the key's name %q", origin, logName)
	}
	var size int64
	if _, err := fmt.Sscanf(lines[1], "%d", &size); err != nil || fmt.Sprint(size) != lines[1] || size < 0 {
		return tlog.Tree{}, "", fmt.Errorf("malformed tree size %q", lines[1])
	}
	hash, err := tlog.ParseHash(lines[2])
	if err != nil {
		return tlog.Tree{}, "", fmt.Errorf("malformed root hash: %w", err)
	}
	cosigned := map[string]bool{}
	for _, sig := range n.Sigs {
		for _, key := range witnessKeys {
			if strings.HasPrefix(key, sig.Name+"+") {
				cosigned[sig.Name] = true
			}
		}
	}
	if len(cosigned) < quorum {
		return tlog.Tree{}, "", fmt.Errorf("cosigned by %d of the given witnesses, fewer than the quorum of %d", len(cosigned), quorum)
	}
	if len(witnessKeys) > 0 {
		fmt.Printf("ok  cosigned by %d witness(es) of %d given (quorum %d)\n", len(cosigned), len(witnessKeys), quorum)
	}
	return tlog.Tree{N: size, Hash: hash}, origin, nil
}

// signedBy says whether one of the note's verified signatures is the key's.
func signedBy(n *note.Note, key note.Verifier) bool {
	for _, sig := range n.Sigs {
		if sig.Name == key.Name() && sig.Hash == key.KeyHash() {
			return true
		}
	}
	return false
}

type record struct {
	index int64
	hash  tlog.Hash
}

// readReceipts reads the receipts the service answered at ingest: each has its seq and its leaf hash
// (`leaf_hash` in a signed receipt, `hash` in an ingest answer's item).
func readReceipts(file string) ([]record, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var items []struct {
		Seq      int64  `json:"seq"`
		LeafHash string `json:"leaf_hash"`
		Hash     string `json:"hash"`
	}
	if err := json.Unmarshal(data, &items); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	records := make([]record, 0, len(items))
	for i, item := range items {
		text := item.LeafHash
		if text == "" {
			text = item.Hash
		}
		raw, err := hex.DecodeString(text)
		if err != nil || len(raw) != tlog.HashSize || item.Seq < 1 {
			return nil, fmt.Errorf("%s: item %d has no seq and 64-hex-digit leaf hash", file, i)
		}
		var h tlog.Hash
		copy(h[:], raw)
		records = append(records, record{index: item.Seq - 1, hash: h})
	}
	if len(records) == 0 {
		return nil, fmt.Errorf("%s: no receipts", file)
	}
	return records, nil
}

// logClient reads one tenant's log prefix.
type logClient struct {
	base  string
	token string
	http  *http.Client
}

func (c *logClient) get(path string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", c.base+path, res.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// tileReader serves tlog's tiles from C2SP tlog-tiles paths. Go's sumdb writes the height into the path
// (tile/8/L/N); C2SP fixes the height at 8 and leaves it out (tile/L/N).
type tileReader struct{ client *logClient }

func (r *tileReader) Height() int { return 8 }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, tile := range tiles {
		path := strings.Replace(tile.Path(), "tile/8/", "tile/", 1)
		body, err := r.client.get(path)
		if err != nil {
			return nil, err
		}
		data[i] = body
	}
	return data, nil
}

func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// pathEscape percent-encodes a tenant as the service does in its origins and paths (encodeURIComponent).
func pathEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
