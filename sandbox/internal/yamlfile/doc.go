// Package yamlfile is the one YAML decoding layer of the sandbox: the
// config loader and the scenario loader both read, parse and walk their
// files through it, so both refuse the same things in the same words.
//
// Read fetches a bounded regular file; Decoder.Parse turns text into the
// node tree of its one document. Parsing refuses text over MaxBytes, text
// that is not UTF-8 (at the line of the first bad byte), syntax errors and
// a second document.
//
// The Decoder's primitives (Mapping, Keys, Pairs, List, Str, Int, Float,
// Bool, Duration, Time, Date, StringList, StringMap, OneOf, JSON) then walk
// the tree into typed values. Each checks the node it is given: aliases
// (which also rules out alias bombs), tags outside the YAML core schema,
// merge keys, duplicate and unknown keys, wrong types and values out of
// bounds are all refused where the walk meets them. A node the walk never
// visits, such as the value of an unknown key, is not reported twice.
//
// Nothing stops at the first mistake: every problem is recorded as a
// Problem (file, line, message) and returned at the end as an Error in
// line order, so a user fixes a file in one go. The tree is walked by hand
// rather than decoded with yaml.Decoder.KnownFields because that stops at
// the first error and loses most line numbers.
package yamlfile
