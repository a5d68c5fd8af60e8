// Package mdcheck reads the repository's Markdown documentation for the
// tests that hold it to the code: a table found by its header row (the error
// codes, say), and the relative links of every page, which must lead to a
// file that exists and, with a #fragment, to a heading it has.
//
// It is imported by tests only, and understands the Markdown this
// repository writes, not all of CommonMark: ATX headings (`## Title`),
// fenced code blocks, inline links `[text](target)`, and tables of `|` rows.
package mdcheck

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// Table returns the body rows of the first table in text whose header row
// is header (as written, e.g. "| flag | default |"), each row its cells
// with the surrounding spaces trimmed; `\|` inside a cell is a pipe.
func Table(text, header string) ([][]string, error) {
	lines := strings.Split(text, "\n")
	start := slices.Index(lines, header)
	if start < 0 {
		return nil, fmt.Errorf("no table with the header %q", header)
	}
	width := len(cells(header))
	var rows [][]string
	for i, line := range lines[start+1:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		if i == 0 { // the delimiter row
			continue
		}
		row := cells(line)
		if len(row) != width {
			return nil, fmt.Errorf("row %q has %d cells, the header %d", line, len(row), width)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// cells splits a table row at its unescaped pipes.
func cells(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(row, "|")
	row = strings.TrimSuffix(row, "|")
	var out []string
	var cell strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row) && row[i+1] == '|':
			cell.WriteByte('|')
			i++
		case row[i] == '|':
			out = append(out, strings.TrimSpace(cell.String()))
			cell.Reset()
		default:
			cell.WriteByte(row[i])
		}
	}
	return append(out, strings.TrimSpace(cell.String()))
}

// Pages returns the Markdown files under root, relative to it, leaving out
// what is not the repository's own writing (npm packages, the IDE's
// vendored files, version control).
func Pages(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", ".git", "assets", "artifacts":
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".md") {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out, err
}

// BrokenLinks checks the relative links of the pages (paths relative to
// root) and returns one line per link that leads nowhere: a file or
// directory that does not exist, or a #fragment that is no heading of the
// Markdown page it names. Links with a scheme (https:, mailto:) are not
// followed.
func BrokenLinks(root string, pages []string) ([]string, error) {
	anchors := map[string]map[string]bool{} // page → its headings' anchors
	anchorsOf := func(page string) (map[string]bool, error) {
		if a, ok := anchors[page]; ok {
			return a, nil
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(page)))
		if err != nil {
			return nil, err
		}
		a := Anchors(string(b))
		anchors[page] = a
		return a, nil
	}
	var broken []string
	for _, page := range pages {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(page)))
		if err != nil {
			return nil, err
		}
		for _, l := range links(string(b)) {
			target, fragment, _ := strings.Cut(l.target, "#")
			dest := page
			if target != "" {
				dest = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(page), target)))
				if strings.HasPrefix(dest, "../") {
					broken = append(broken, fmt.Sprintf("%s:%d: %s leaves the repository", page, l.line, l.target))
					continue
				}
				if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(dest))); err != nil {
					broken = append(broken, fmt.Sprintf("%s:%d: %s: no such file", page, l.line, l.target))
					continue
				}
			}
			if fragment == "" || !strings.HasSuffix(dest, ".md") {
				continue
			}
			a, err := anchorsOf(dest)
			if err != nil {
				return nil, err
			}
			if !a[fragment] {
				broken = append(broken, fmt.Sprintf("%s:%d: %s: %s has no heading #%s", page, l.line, l.target, dest, fragment))
			}
		}
	}
	return broken, nil
}

type link struct {
	target string
	line   int
}

var (
	inlineLink = regexp.MustCompile(`\]\(([^()\s]+)\)`)
	codeSpan   = regexp.MustCompile("`[^`]*`")
	hasScheme  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// links are the relative link targets of a page, outside code.
func links(text string) []link {
	var out []link
	for i, line := range lines(text) {
		if line.code {
			continue
		}
		for _, m := range inlineLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(line.text, ""), -1) {
			if t := m[1]; !hasScheme.MatchString(t) {
				out = append(out, link{t, i + 1})
			}
		}
	}
	return out
}

type mdLine struct {
	text string
	code bool // inside a fenced code block, fences included
}

func lines(text string) []mdLine {
	var out []mdLine
	fence := ""
	for _, l := range strings.Split(text, "\n") {
		trimmed := strings.TrimLeft(l, " ")
		switch {
		case fence == "" && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")):
			fence = trimmed[:3]
			out = append(out, mdLine{l, true})
		case fence != "":
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			out = append(out, mdLine{l, true})
		default:
			out = append(out, mdLine{l, false})
		}
	}
	return out
}

// Anchors returns the fragments that lead to the headings of a page, made
// as GitHub makes them: lower case, code spans' backticks and punctuation
// dropped, spaces turned into hyphens, a repeated one suffixed -1, -2, ….
func Anchors(text string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, l := range lines(text) {
		if l.code || !strings.HasPrefix(l.text, "#") {
			continue
		}
		title := strings.TrimLeft(l.text, "#")
		if len(l.text)-len(title) > 6 || !strings.HasPrefix(title, " ") {
			continue
		}
		slug := Slug(strings.TrimSpace(title))
		if n := seen[slug]; n > 0 {
			out[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			out[slug] = true
		}
		seen[slug]++
	}
	return out
}

// Slug is a heading's anchor, as GitHub makes it.
func Slug(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}
