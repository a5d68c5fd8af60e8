package restclient

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// meetingRecord renders the i-th record of a realistic meetings answer, as
// a PHP backend writes it: \u escapes for Polish letters, escaped slashes,
// ids as numbers, counters as numbers or strings, the odd empty value.
func meetingRecord(i int) string {
	thread, lat, lng := fmt.Sprintf(`"%d"`, 9000+i/3), fmt.Sprintf(`"%.4f"`, 49.5+float64(i%300)/100), fmt.Sprintf(`"%.4f"`, 14.2+float64(i%900)/100)
	if i%10 == 0 {
		thread = `""`
	}
	if i%25 == 0 {
		lat, lng = `""`, `""`
	}
	return fmt.Sprintf(`{"id":%d,"hash":"%016x%016x","id_user":12,"id_person":"%d","id_comapny":"%d","id_thread":%s,`+
		`"status":"%s","start_date":"2024-03-%02d 10:%02d:00","end_date":"2024-03-%02d 11:30:00",`+
		`"address":"ul. Marsza\u0142kowska %d\/%d, 00-%03d Warszawa","visits":"%d","visits_owner":%d,"visits_copy":"%d",`+
		`"gps_lat":%s,"gps_lng":%s,"type":"%s","created_at":"2024-03-%02d 12:00:00","modified_at":"%s"}`,
		100000+i, uint64(i)*0x9e3779b97f4a7c15, uint64(i)*0xbf58476d1ce4e5b9, 5000+i%97, 700+i%41, thread,
		[]string{"finished", "saved", "interrupted"}[i%3], i%28+1, i%60, i%28+1,
		i%200+1, i%7+1, i%1000, i%17, i%5, i%3,
		lat, lng, []string{"standard", "anonymous"}[i%2], i%28+1,
		[]string{"2024-04-01 08:00:00", "0000-00-00 00:00:00", ""}[i%3])
}

// threadRecord renders the i-th record of a realistic threads page.
func threadRecord(i int) string {
	fields := `[]`
	if i%2 == 0 {
		fields = fmt.Sprintf(`[{"name":"\u0179r\u00f3d\u0142o","value":"polecenie"},{"name":"Bran\u017ca","value":"%d"}]`, i%9)
	}
	return fmt.Sprintf(`{"id":"%d","number":"%06d","name":"Wdro\u017cenie CRM %d","id_user":"12","id_company":"%d","id_person":"%d",`+
		`"status":"%s","description":"Klient prosi o ofert\u0119.\nTermin: %d dni.","end_date":"%s",`+
		`"contract_value":%d.%02d,"fields":%s,"created_at":"2023-11-%02d 09:15:00","modified_at":"2024-02-%02d 16:40:12"}`,
		3000+i*7, i+1, i, 700+i%41, 5000+i%97,
		[]string{"open", "in_progress", "won", "lost", "suspended"}[i%5], i%30, []string{"2024-06-30 00:00:00", "0000-00-00 00:00:00"}[i%2],
		1000+i*37, i%100, fields, i%28+1, i%28+1)
}

func meetingsBody(n int) []byte {
	recs := make([]string, n)
	for i := range recs {
		recs[i] = meetingRecord(i)
	}
	return []byte(`{"status":200,"data":{"list":[` + strings.Join(recs, ",") + `]}}`)
}

func threadsBody(n, page, pages, total int) []byte {
	recs := make([]string, n)
	for i := range recs {
		recs[i] = threadRecord((page-1)*n + i)
	}
	return []byte(fmt.Sprintf(`{"status":200,"data":{"list":[%s],"pagination":{"page":%d,"pages_count":%d,"per_page":%d,"total":%d}}}`,
		strings.Join(recs, ","), page, pages, n, total))
}

func BenchmarkDecodeMeetings500(b *testing.B) {
	body := meetingsBody(500)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		ms, err := decodeMeetings(body, time.UTC)
		if err != nil || len(ms) != 500 {
			b.Fatalf("got %d meetings, %v", len(ms), err)
		}
	}
}

func BenchmarkDecodeThreads100(b *testing.B) {
	body := threadsBody(100, 2, 5, 480)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		p, reason, err := decodeThreads(body, time.UTC, 2)
		if err != nil || reason != "" || len(p.List) != 100 {
			b.Fatalf("got %+v, %q, %v", p, reason, err)
		}
	}
}
