package main

// The frame codec of the server <-> sidecar socket (fd 3).
//
// Every frame, both directions: [u32 LE n][u8 type][payload of n-1 bytes]. Integers are
// little-endian; `bytes` is a u32 LE length followed by that many bytes; `str` is `bytes`
// holding UTF-8. See README.md for the message catalogue.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"syscall"
)

// Server -> sidecar.
const (
	msgPropose       = 1
	msgConfChange    = 2
	msgSnapshotTaken = 3
	msgReadIndex     = 4
	msgResync        = 5
	msgTransfer      = 6
	msgPing          = 7 // the server's liveness: sent every heartbeat while its loop runs
)

// Sidecar -> server.
const (
	msgStatus          = 10
	msgEntries         = 11
	msgProposeFailed   = 12
	msgSnapshotInstall = 13
	msgReadIndexOK     = 14
	msgReadIndexFailed = 15
	msgConfResult      = 16
)

// maxFrame bounds one incoming frame (type byte + payload). A server batch or a snapshot path
// is far below it; anything larger is a corrupt length prefix.
const maxFrame = 256 << 20

// errFdClosed reports a clean or mid-frame EOF on fd 3: the server is gone.
var errFdClosed = errors.New("fd 3 closed")

// protocolError is a frame the codec rejects (bad length, unknown type, malformed payload).
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return e.msg }

// frame is one decoded incoming message.
type frame struct {
	typ     byte
	payload []byte
}

// readFrame reads one frame. io.EOF (clean or mid-frame) becomes errFdClosed; a bad length or an
// unknown type is a protocol error.
func readFrame(r *bufio.Reader) (frame, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return frame{}, closedOr(err)
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n < 1 || n > maxFrame {
		return frame{}, &protocolError{fmt.Sprintf("bad frame length %d (must be 1..%d)", n, maxFrame)}
	}
	typ, err := r.ReadByte()
	if err != nil {
		return frame{}, errFdClosed
	}
	if !knownIncoming(typ) {
		return frame{}, &protocolError{fmt.Sprintf("unknown frame type %d (length %d)", typ, n)}
	}
	payload := make([]byte, n-1)
	if _, err := io.ReadFull(r, payload); err != nil {
		return frame{}, closedOr(err)
	}
	return frame{typ: typ, payload: payload}, nil
}

// closedOr maps the ways a vanished server shows up on a socket (EOF, a reset when it closed
// with our frames unread) to errFdClosed.
func closedOr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF || errors.Is(err, syscall.ECONNRESET) {
		return errFdClosed
	}
	return err
}

func knownIncoming(t byte) bool {
	return t >= msgPropose && t <= msgPing
}

// decoder reads the fields of one payload; the first short read sets err and later reads
// return zero values, so a message decodes with one error check at the end.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) need(n int, what string) bool {
	if d.err != nil {
		return false
	}
	if len(d.b) < n {
		d.err = fmt.Errorf("payload too short for %s (%d bytes left, %d needed)", what, len(d.b), n)
		return false
	}
	return true
}

func (d *decoder) u8(what string) byte {
	if !d.need(1, what) {
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) u64(what string) uint64 {
	if !d.need(8, what) {
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) bytes(what string) []byte {
	if !d.need(4, what) {
		return nil
	}
	n := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	if !d.need(int(n), what) {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// done reports the first error, or trailing bytes after the last field.
func (d *decoder) done(msg string) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return &protocolError{fmt.Sprintf("malformed %s frame: %v", msg, d.err)}
	}
	return nil
}

// encoder builds one outgoing frame; the length prefix is patched in by finish.
type encoder struct {
	b []byte
}

func newEncoder(typ byte, sizeHint int) *encoder {
	e := &encoder{b: make([]byte, 5, 5+sizeHint)}
	e.b[4] = typ
	return e
}

func (e *encoder) u8(v byte) { e.b = append(e.b, v) }
func (e *encoder) u32(v uint32) {
	e.b = binary.LittleEndian.AppendUint32(e.b, v)
}
func (e *encoder) u64(v uint64) {
	e.b = binary.LittleEndian.AppendUint64(e.b, v)
}
func (e *encoder) bytes(v []byte) {
	e.u32(uint32(len(v)))
	e.b = append(e.b, v...)
}
func (e *encoder) str(v string) {
	e.u32(uint32(len(v)))
	e.b = append(e.b, v...)
}

func (e *encoder) finish() []byte {
	binary.LittleEndian.PutUint32(e.b, uint32(len(e.b)-4))
	return e.b
}
