package main

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"go.etcd.io/etcd/raft/raftpb"
)

func readOne(t *testing.T, raw []byte) (frame, error) {
	t.Helper()
	return readFrame(bufio.NewReader(bytes.NewReader(raw)))
}

func TestFrameRoundTrip(t *testing.T) {
	e := newEncoder(msgPropose, 0)
	e.u64(42)
	e.bytes([]byte("batch"))
	f, err := readOne(t, e.finish())
	if err != nil || f.typ != msgPropose {
		t.Fatalf("frame %v, err %v", f, err)
	}
	d := &decoder{b: f.payload}
	tag, data := d.u64("tag"), d.bytes("data")
	if err := d.done("PROPOSE"); err != nil || tag != 42 || string(data) != "batch" {
		t.Fatalf("tag %d data %q err %v", tag, data, err)
	}
}

func TestFrameErrors(t *testing.T) {
	cases := []struct {
		raw  []byte
		want string
	}{
		{[]byte{0, 0, 0, 0}, "bad frame length 0"},
		{[]byte{0xff, 0xff, 0xff, 0x7f, 1}, "bad frame length 2147483647"},
		{[]byte{1, 0, 0, 0, 99}, "unknown frame type 99"},
		{[]byte{1, 0, 0, 0, msgStatus}, "unknown frame type 10"},
	}
	for _, c := range cases {
		_, err := readOne(t, c.raw)
		if _, ok := err.(*protocolError); !ok || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want a protocol error %q", c.raw, err, c.want)
		}
	}
	for _, raw := range [][]byte{{}, {5, 0}, {5, 0, 0, 0, msgPropose, 1}} {
		if _, err := readOne(t, raw); err != errFdClosed {
			t.Errorf("%v: got %v, want errFdClosed", raw, err)
		}
	}
	d := &decoder{b: []byte{1, 2, 3}}
	d.u64("tag")
	if err := d.done("READ_INDEX"); err == nil ||
		err.Error() != "malformed READ_INDEX frame: payload too short for tag (3 bytes left, 8 needed)" {
		t.Errorf("short payload: %v", err)
	}
	d = &decoder{b: []byte{9}}
	if err := d.done("RESYNC"); err == nil || err.Error() != "malformed RESYNC frame: 1 trailing bytes" {
		t.Errorf("trailing: %v", err)
	}
}

func TestSnapshotEnvelope(t *testing.T) {
	m := members{1: {Raft: "a:1", Client: "a:2"}, 7: {Raft: "b:1", Client: "b:2"}}
	got, data, err := unwrapSnapshot(wrapSnapshot(m, []byte("engine")))
	if err != nil || string(data) != "engine" || len(got) != 2 || got[7] != m[7] {
		t.Fatalf("members %v data %q err %v", got, data, err)
	}
	if _, _, err := unwrapSnapshot([]byte("engine bytes without an envelope")); err == nil {
		t.Fatal("a foreign snapshot was accepted")
	}
	bad := wrapSnapshot(m, nil)[:len(envelopeMagic)+6]
	if _, _, err := unwrapSnapshot(bad); err == nil {
		t.Fatal("a truncated envelope was accepted")
	}
}

func TestParseMembers(t *testing.T) {
	m, err := parseMembers(`{"1":{"raft":"h:1","client":"h:2"},"9223372036854775808":{"raft":"h:3"}}`)
	if err != nil || len(m) != 2 || m[1<<63].Raft != "h:3" {
		t.Fatalf("%v %v", m, err)
	}
	for in, want := range map[string]string{
		`{"0":{"raft":"h:1"}}`:                   `member id "0" is not an integer in 1..2^63`,
		`{"9223372036854775809":{"raft":"h:1"}}`: `is not an integer in 1..2^63`,
		`{"x":{"raft":"h:1"}}`:                   `member id "x"`,
		`{"2":{"client":"h:1"}}`:                 `member 2 has no raft address`,
		`[1]`:                                    `--members: json`,
	} {
		if _, err := parseMembers(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", in, err, want)
		}
	}
}

func TestWithRecipient(t *testing.T) {
	m := raftpb.Message{Type: raftpb.MsgSnap, To: 4}
	m.Snapshot.Metadata.ConfState.Voters = []uint64{1, 2, 3}
	got := withRecipient(m)
	if v := got.Snapshot.Metadata.ConfState.Voters; len(v) != 4 || v[3] != 4 {
		t.Fatalf("voters %v", v)
	}
	if len(m.Snapshot.Metadata.ConfState.Voters) != 3 {
		t.Fatal("the original message's voters were changed")
	}
	m.To = 2
	if v := withRecipient(m).Snapshot.Metadata.ConfState.Voters; len(v) != 3 {
		t.Fatalf("a member already in the snapshot was added again: %v", v)
	}
}
