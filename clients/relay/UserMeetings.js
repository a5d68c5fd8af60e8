// The documents relay-compiler compiles. It reads the graphql`` templates
// here and writes their artifacts to __generated__/, which relay.test.js
// imports; no babel plugin runs, so this module is never imported itself.
/* global graphql */

// A user's meetings as a Relay connection. @refetchable makes the compiler
// write the query that fetches further pages through Query.node, by the
// user's globalId: the field relay.config.json names as the Node id.
graphql`
  fragment UserMeetings_user on User
  @refetchable(queryName: "UserMeetingsPaginationQuery")
  @argumentDefinitions(first: { type: "Int", defaultValue: 3 }, after: { type: "String" }) {
    id
    meetings(first: $first, after: $after) @connection(key: "UserMeetings_meetings") {
      totalCount
      edges {
        node {
          id
          status
          thread {
            id
            name
          }
        }
      }
    }
  }
`;

graphql`
  query UserMeetingsQuery($id: ID!) {
    user(id: $id) {
      ...UserMeetings_user
    }
  }
`;

// Every meeting and thread of many users: meeting and thread ids are
// separate sequences in the CRM, so without getDataID records would merge.
graphql`
  query UserMeetingsAllQuery($ids: [ID!]!) {
    users(ids: $ids) {
      id
      meetings(first: 100) {
        nodes {
          id
          status
        }
      }
      threads(first: 100) {
        nodes {
          id
          name
        }
      }
    }
  }
`;
