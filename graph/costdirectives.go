package graph

// The served schema carries the GraphQL cost specification's directives
// (https://ibm.github.io/graphql-specs/cost-spec.html), as Apollo Router,
// Hive, Cosmo and Grafbase read them for demand control: @cost on the
// fields that call the upstream, @listSize on the lists. Their values are
// the field table's (fields.go: weight and size), which the estimate reads
// too; schema.graphqls spells them out, because gqlgen compiles the schema
// from it and a gateway reads the printed SDL, and
// TestCostDirectivesAreTheFieldTable fails, printing the line to write,
// when the two disagree (costDirectives, in the test, writes them).

// listSize is a field's @listSize.
type listSize struct {
	// assumedSize is the size when no slicing argument is given: the
	// default page size of a connection, the largest number of ids, or
	// what the estimate assumes of a list no argument sizes.
	assumedSize int
	// slicingArguments are the arguments whose value is the size; with
	// them, requireOneSlicingArgument is false, since a connection pages
	// by first or by last, or by neither (then assumedSize).
	slicingArguments []string
	// sizedFields are the fields of a connection that are the list.
	sizedFields []string
}
