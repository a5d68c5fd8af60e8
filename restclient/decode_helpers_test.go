package restclient

import "time"

// Helpers for the tests, fuzzers and benchmarks of this package: the
// decoding of a whole body, without the HTTP around it, as the one request
// path does it.

// decodeMeetings decodes a whole meetings response body, the answer to
// page 1: the path a 2xx answer takes, without the HTTP around it.
func decodeMeetings(body []byte, loc *time.Location) (out []Meeting, err error) {
	err = decodeSuccess(body, func(s *scanner) error {
		p, _, err := decodePage(s, loc, Meetings, 1)
		if p != nil {
			out = p.List
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodeThreads decodes a whole threads response body for page: the path a
// 2xx answer takes, without the HTTP around it.
func decodeThreads(body []byte, loc *time.Location, page int) (out *Page[Thread], reason string, err error) {
	err = decodeSuccess(body, func(s *scanner) (err error) {
		out, reason, err = decodePage(s, loc, Threads, page)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return out, reason, nil
}

// validJSON reports whether b is one JSON document, as json.Valid would.
func validJSON(b []byte) error {
	s := scanner{buf: b}
	if _, err := s.value(); err != nil {
		return err
	}
	return s.end()
}
