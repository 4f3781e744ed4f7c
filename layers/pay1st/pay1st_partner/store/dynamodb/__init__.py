"""The payments store on DynamoDB: conditional writes, sparse sharded indexes, transactions where needed."""
