package main

// Membership: every member's raft and client address, keyed by id. Raft itself only knows ids;
// the addresses travel in ConfChange.Context (bootstrap and later adds) and in the sidecar's
// snapshot envelope, so every member can dial every peer and tell the server where each
// member's clients connect.

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

type memberAddr struct {
	Raft   string `json:"raft"`
	Client string `json:"client"`
}

type members map[uint64]memberAddr

// parseMembers reads the config's object {"1":{"raft":..,"client":..},..}.
func parseMembers(s string) (members, error) {
	var raw map[string]memberAddr
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("--members: %v", err)
	}
	m := members{}
	for k, v := range raw {
		id, err := strconv.ParseUint(k, 10, 64)
		if err != nil || id == 0 || id > 1<<63 {
			return nil, fmt.Errorf("--members: member id %q is not an integer in 1..2^63", k)
		}
		if v.Raft == "" {
			return nil, fmt.Errorf("--members: member %s has no raft address", k)
		}
		m[id] = v
	}
	return m, nil
}

func (m members) clone() members {
	c := make(members, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (m members) sortedIDs() []uint64 {
	ids := make([]uint64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (m members) marshal() []byte {
	raw := make(map[string]memberAddr, len(m))
	for k, v := range m {
		raw[strconv.FormatUint(k, 10)] = v
	}
	b, _ := json.Marshal(raw)
	return b
}

func unmarshalMembers(b []byte) (members, error) {
	if len(b) == 0 {
		return members{}, nil
	}
	return parseMembers(string(b))
}

// ccContext is the JSON in ConfChange.Context. Proposer and Tag let the proposing member match
// the committed change to the CONF_CHANGE that asked for it; they are absent on bootstrap
// entries.
type ccContext struct {
	Raft     string `json:"raft"`
	Client   string `json:"client"`
	Proposer uint64 `json:"proposer,omitempty"`
	Tag      uint64 `json:"tag,omitempty"`
}

// ccEntryData is the ENTRIES payload of a conf change entry.
type ccEntryData struct {
	Op     string `json:"op"`
	ID     string `json:"id"`
	Raft   string `json:"raft"`
	Client string `json:"client"`
}

func peerURL(hostport string) string { return "http://" + hostport }
