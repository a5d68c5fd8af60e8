package fakeapi_test

import (
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesgraph/salesgraph/restclient/fakeapi"
)

const wireTime = "2006-01-02 15:04:05"

// date checks a wire date and reports whether it is a real one.
func date(t *testing.T, s string) bool {
	t.Helper()
	if s == "" || s == "0000-00-00 00:00:00" {
		return false
	}
	tm, err := time.Parse(wireTime, s)
	if assert.NoError(t, err) {
		assert.True(t, tm.Year() == 2025 || tm.Year() == 2026, "%s is outside 2025–2026", s)
	}
	return true
}

func TestDatasetDefaults(t *testing.T) {
	d := fakeapi.NewDataset()
	require.Len(t, d.Users, 50)
	for i, u := range d.Users {
		assert.Equal(t, int64(i+1), u.ID)
		assert.Len(t, u.Meetings, 12)
		assert.Len(t, u.Threads, 45)
	}
	_, ok := d.User(0)
	assert.False(t, ok)
	_, ok = d.User(51)
	assert.False(t, ok)
	u, ok := d.User(50)
	require.True(t, ok)
	assert.Equal(t, int64(50), u.ID)
}

func TestDatasetIdentities(t *testing.T) {
	d := fakeapi.NewDataset()
	meetingIDs := map[int64]bool{}
	type numbered struct {
		id     int
		number string
	}
	var threads []numbered
	for _, u := range d.Users {
		for i, m := range u.Meetings {
			assert.False(t, meetingIDs[m.ID], "meeting id %d twice", m.ID)
			meetingIDs[m.ID] = true
			assert.Equal(t, u.ID, m.UserID)
			assert.Regexp(t, `^[0-9a-f]{32}$`, m.Hash)
			if i > 0 {
				assert.Greater(t, m.ID, u.Meetings[i-1].ID, "meetings in id order")
			}
		}
		for i, th := range u.Threads {
			id, err := strconv.Atoi(th.ID)
			require.NoError(t, err, "thread ids are decimal text")
			threads = append(threads, numbered{id, th.Number})
			assert.Equal(t, u.ID, th.UserID)
			if i > 0 {
				prev, _ := strconv.Atoi(u.Threads[i-1].ID)
				assert.Greater(t, id, prev, "threads in id order")
			}
		}
	}
	// Numbers are sequential in id order across the whole dataset, and
	// never equal to an id, so mixing the two up shows.
	slices.SortFunc(threads, func(a, b numbered) int { return a.id - b.id })
	for i, th := range threads {
		assert.Equal(t, strconv.Itoa(i+1), trimZeros(th.number))
		assert.Len(t, th.number, 6)
		if i > 0 {
			assert.NotEqual(t, threads[i-1].id, th.id, "thread id %d twice", th.id)
		}
	}
	gaps := 0
	for i := 1; i < len(threads); i++ {
		if threads[i].id != threads[i-1].id+1 {
			gaps++
		}
	}
	assert.Positive(t, gaps, "thread ids are not contiguous, so a client cannot count on it")
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

func TestDatasetIsRealisticAndComplete(t *testing.T) {
	d := fakeapi.NewDataset(fakeapi.WithCleanData())
	addr := regexp.MustCompile(`^(ul\.|al\.|pl\.|os\.) .+ \d+A?(/\d+)?, \d{2}-\d{3} \p{Lu}\p{L}+( \p{Lu}\p{L}+)?$`)
	polish := regexp.MustCompile(`[ąćęłńóśźżĄĆĘŁŃÓŚŹŻ]`)
	statuses, types, threadStatuses := map[string]int{}, map[string]int{}, map[string]int{}
	withThread, meetings, diacritics, grosze, emptyFields := 0, 0, 0, 0, 0
	for _, u := range d.Users {
		own := map[string]bool{}
		for _, th := range u.Threads {
			own[th.ID] = true
			threadStatuses[th.Status]++
			assert.NotEmpty(t, th.Name)
			assert.Contains(t, th.Name, " – ")
			if polish.MatchString(th.Name + th.Description) {
				diacritics++
			}
			assert.GreaterOrEqual(t, th.ContractValue, 0.0)
			assert.Equal(t, math.Round(th.ContractValue*100)/100, th.ContractValue, "whole grosze")
			if th.ContractValue != math.Trunc(th.ContractValue) {
				grosze++
			}
			var fields []struct {
				Name  string `json:"name"`
				Value any    `json:"value"`
			}
			require.NoError(t, json.Unmarshal(th.Fields, &fields), "fields %s", th.Fields)
			if len(fields) == 0 {
				emptyFields++
			}
			for _, f := range []string{th.EndDate, th.CreatedAt, th.ModifiedAt} {
				assert.True(t, date(t, f), "clean data has every date")
			}
			assert.LessOrEqual(t, th.CreatedAt, th.ModifiedAt)
		}
		userStatuses, userTypes, noThread := map[string]bool{}, map[string]bool{}, false
		for _, m := range u.Meetings {
			meetings++
			statuses[m.Status]++
			types[m.Type]++
			userStatuses[m.Status], userTypes[m.Type] = true, true
			if m.ThreadID == "" {
				noThread = true
			} else {
				withThread++
				assert.True(t, own[m.ThreadID], "meeting %d refers to thread %s of another user", m.ID, m.ThreadID)
			}
			assert.Regexp(t, addr, m.Address)
			lat, err := strconv.ParseFloat(m.GPSLat, 64)
			require.NoError(t, err)
			lng, err := strconv.ParseFloat(m.GPSLng, 64)
			require.NoError(t, err)
			assert.True(t, lat > 49 && lat < 54.9 && lng > 14.1 && lng < 24.2, "%s,%s is outside Poland", m.GPSLat, m.GPSLng)
			assert.Equal(t, m.GPSLat, strconv.FormatFloat(lat, 'f', -1, 64), "coordinates print back as sent")
			for _, f := range []string{m.StartDate, m.EndDate, m.CreatedAt, m.ModifiedAt} {
				assert.True(t, date(t, f))
			}
			assert.Less(t, m.StartDate, m.EndDate)
			assert.LessOrEqual(t, m.EndDate, m.CreatedAt)
			assert.LessOrEqual(t, m.CreatedAt, m.ModifiedAt)
			assert.LessOrEqual(t, m.VisitsOwner+m.VisitsCopy, m.Visits)
			if m.Type == "anonymous" {
				assert.Empty(t, m.PersonID)
			} else {
				assert.NotEmpty(t, m.PersonID)
			}
			assert.NotEmpty(t, m.CompanyID)
		}
		assert.Len(t, userStatuses, 3, "user %d has every meeting status", u.ID)
		assert.Len(t, userTypes, 2, "user %d has both meeting types", u.ID)
		assert.True(t, noThread, "user %d has a meeting outside any thread", u.ID)
	}
	assert.Equal(t, []string{"finished", "interrupted", "saved"}, sortedKeys(statuses))
	assert.Equal(t, []string{"anonymous", "standard"}, sortedKeys(types))
	assert.Equal(t, []string{"in_progress", "lost", "open", "suspended", "won"}, sortedKeys(threadStatuses))
	assert.Greater(t, withThread, meetings/2, "most meetings belong to a thread")
	assert.Greater(t, diacritics, 100, "names look Polish")
	assert.Greater(t, grosze, 2000, "contract values have grosze")
	assert.Greater(t, emptyFields, 100, "some threads have fields []")
}

func sortedKeys(m map[string]int) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	slices.Sort(k)
	return k
}

func TestQuirksAreFewAndCleanDataRepairsOnlyThem(t *testing.T) {
	quirky, clean := fakeapi.NewDataset(), fakeapi.NewDataset(fakeapi.WithCleanData())
	var meetings, threads, noGPS, emptyDates, zeroDates, threadQuirks int
	for i, u := range quirky.Users {
		cu := clean.Users[i]
		for j, m := range u.Meetings {
			meetings++
			c := cu.Meetings[j]
			if m.GPSLat == "" {
				noGPS++
				assert.Empty(t, m.GPSLng, "both coordinates go together")
				m.GPSLat, m.GPSLng = c.GPSLat, c.GPSLng
			}
			for _, pair := range [][2]*string{{&m.StartDate, &c.StartDate}, {&m.EndDate, &c.EndDate}, {&m.CreatedAt, &c.CreatedAt}, {&m.ModifiedAt, &c.ModifiedAt}} {
				switch *pair[0] {
				case "":
					emptyDates++
					*pair[0] = *pair[1]
				case "0000-00-00 00:00:00":
					zeroDates++
					*pair[0] = *pair[1]
				}
			}
			assert.Equal(t, c, m, "apart from its quirks, meeting %d is the clean one", m.ID)
		}
		for j, th := range u.Threads {
			threads++
			c := cu.Threads[j]
			quirked := false
			for _, pair := range [][2]*string{{&th.EndDate, &c.EndDate}, {&th.CreatedAt, &c.CreatedAt}, {&th.ModifiedAt, &c.ModifiedAt}} {
				if *pair[0] == "" || *pair[0] == "0000-00-00 00:00:00" {
					quirked = true
					*pair[0] = *pair[1]
				}
			}
			if quirked {
				threadQuirks++
			}
			assert.Equal(t, c, th)
		}
	}
	share := func(n, of int) float64 { return float64(n) / float64(of) }
	// The shares are drawn, so these bounds are loose; the dataset is
	// deterministic, so they cannot flake.
	assert.InDelta(t, 0.04, share(noGPS, meetings), 0.02, "meetings without coordinates")
	assert.InDelta(t, 0.03, share(emptyDates, meetings), 0.02, "meetings with an empty date")
	assert.InDelta(t, 0.03, share(zeroDates, meetings), 0.02, "meetings with a zero date")
	assert.InDelta(t, 0.08, share(threadQuirks, threads), 0.03, "threads with a quirky date")
}

func TestSmallDatasetsStillCoverEverything(t *testing.T) {
	d := fakeapi.NewDataset(fakeapi.WithUsers(1), fakeapi.WithMeetingsPerUser(3), fakeapi.WithThreadsPerUser(0))
	u := user(t, d, 1)
	assert.Empty(t, u.Threads)
	var statuses []string
	types := map[string]bool{}
	for _, m := range u.Meetings {
		statuses = append(statuses, m.Status)
		types[m.Type] = true
		assert.Empty(t, m.ThreadID, "no threads to belong to")
	}
	slices.Sort(statuses)
	assert.Equal(t, []string{"finished", "interrupted", "saved"}, statuses)
	assert.Len(t, types, 2)

	assert.Empty(t, fakeapi.NewDataset(fakeapi.WithUsers(0)).Users)
}

func TestDatasetIsACopy(t *testing.T) {
	s := fakeapi.NewServer(fakeapi.WithUsers(2))
	defer s.Close()
	before := get(t, s, threadsPath(1), fakeapi.DefaultToken).body

	d := s.Dataset()
	u := user(t, d, 1)
	u.Meetings[0].Hash = "changed"
	u.Threads[0].Name = "changed"
	u.Threads[0].Fields[0] = 'X'
	d.Users = nil

	assert.Equal(t, fakeapi.NewDataset(fakeapi.WithUsers(2)), s.Dataset())
	assert.Equal(t, before, get(t, s, threadsPath(1), fakeapi.DefaultToken).body)
}

func TestNewDatasetIgnoresServerOptions(t *testing.T) {
	assert.Equal(t,
		fakeapi.NewDataset(fakeapi.WithUsers(3), fakeapi.WithSeed(5)),
		fakeapi.NewDataset(fakeapi.WithUsers(3), fakeapi.WithSeed(5), fakeapi.WithPerPage(3), fakeapi.WithFixedCompanySpelling(), fakeapi.WithTenant("x", 9)))
}
