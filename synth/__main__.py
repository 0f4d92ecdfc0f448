from redis_gitops.synth.main import main

main()
